"""The background-task runner: results reach a live runner, and die with a deleted one."""

from __future__ import annotations

import shiboken6
from pytestqt.qtbot import QtBot

from desktop.ui.tasks import Task, TaskRunner


def test_results_queued_when_the_runner_is_deleted_are_dropped(qtbot: QtBot) -> None:
    runner = TaskRunner()
    seen: list[object] = []

    def work(task: Task[int]) -> int:
        task.report("half way")
        return 42

    runner.run("work", work, seen.append, on_progress=seen.append)
    # The pool finishes without the GUI thread running its event loop: the progress report and
    # the result are queued for delivery, not delivered.
    assert runner.wait(5000)
    assert seen == []
    shiboken6.delete(runner)  # the window closed and took its runner with it
    qtbot.wait(200)  # a Python callback on a deleted runner would raise here (pytest-qt fails)
    assert seen == []


def test_a_failure_queued_when_the_runner_is_deleted_is_dropped(qtbot: QtBot) -> None:
    runner = TaskRunner()

    def broken(task: Task[int]) -> int:
        raise RuntimeError("the agent went away")

    # Without on_error a failure is raised on the GUI thread, which pytest-qt reports: after
    # the runner is gone it must not be.
    runner.run("broken", broken, lambda result: None)
    assert runner.wait(5000)
    shiboken6.delete(runner)
    qtbot.wait(200)


def test_results_reach_a_live_runner_in_order(qtbot: QtBot) -> None:
    runner = TaskRunner()
    seen: list[object] = []
    busy: list[int] = []
    runner.busy_changed.connect(lambda count, _text: busy.append(count))

    def work(task: Task[int]) -> int:
        task.report("step")
        return 7

    for _ in range(3):
        runner.run("quick", work, seen.append, on_progress=seen.append)
    assert busy[-1] == 3
    qtbot.waitUntil(lambda: seen.count(7) == 3, timeout=5000)
    assert seen.count("step") == 3
    # A task's progress report arrives before its result: no prefix has more results.
    assert all(seen[:i].count(7) <= seen[:i].count("step") for i in range(len(seen) + 1))
    assert busy[-1] == 0
    assert runner.wait(5000)
