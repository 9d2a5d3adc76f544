"""The background-task runner when the window that started a task is gone before it ends."""

from __future__ import annotations

import threading

import shiboken6
from pytestqt.qtbot import QtBot

from desktop.ui.tasks import Task, TaskRunner


def test_a_result_arriving_after_the_runner_was_deleted_is_dropped(qtbot: QtBot) -> None:
    runner = TaskRunner()
    release = threading.Event()
    seen: list[object] = []

    def slow(task: Task[int]) -> int:
        task.report("half way")
        release.wait(10)
        return 42

    runner.run("slow", slow, seen.append, on_progress=seen.append)
    qtbot.waitUntil(lambda: seen == ["half way"], timeout=5000)
    shiboken6.delete(runner)  # the window closed and took its runner with it
    release.set()
    qtbot.wait(300)  # the queued result is delivered now; it must find nobody and do nothing
    assert seen == ["half way"]


def test_results_reach_a_live_runner(qtbot: QtBot) -> None:
    runner = TaskRunner()
    seen: list[int] = []
    runner.run("quick", lambda task: 7, seen.append)
    qtbot.waitUntil(lambda: seen == [7], timeout=5000)
    assert runner.wait(5000)
