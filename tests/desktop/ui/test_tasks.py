"""The background-task runner: results reach a live runner, and die with a deleted one; views' reads
and writes run off the GUI thread."""

from __future__ import annotations

import threading

import shiboken6
from pytestqt.qtbot import QtBot
from sqlalchemy import Connection, Engine, select

from mailfleet.desktop.db.models import Workspace
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.tasks import Latest, Task, TaskRunner


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


def test_reads_and_writes_run_off_the_gui_thread_and_a_write_commits(
    qtbot: QtBot, sqlite_engine: Engine
) -> None:
    runner = TaskRunner()
    threads: list[int] = []

    def create(conn: Connection) -> int:
        threads.append(threading.get_ident())
        return ensure_workspace(conn, "Elsewhere")

    def find(conn: Connection) -> int | None:
        threads.append(threading.get_ident())
        return conn.scalar(select(Workspace.id).where(Workspace.name == "Elsewhere"))

    created: list[int] = []
    runner.write(sqlite_engine, "creating", create, created.append)
    qtbot.waitUntil(lambda: bool(created), timeout=5000)
    found: list[int | None] = []
    runner.read(sqlite_engine, "finding", find, found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=5000)
    assert found == created
    assert len(threads) == 2 and threading.get_ident() not in threads


def test_a_failed_write_rolls_back_and_reports_on_the_gui_thread(
    qtbot: QtBot, sqlite_engine: Engine
) -> None:
    runner = TaskRunner()
    errors: list[Exception] = []

    def create_then_fail(conn: Connection) -> None:
        ensure_workspace(conn, "Half done")
        raise ValueError("refused")

    runner.write(sqlite_engine, "failing", create_then_fail, lambda _: None, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert str(errors[0]) == "refused"
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(Workspace.id).where(Workspace.name == "Half done")) is None


def test_latest_shows_only_the_newest_of_reads_that_finish_out_of_order() -> None:
    latest = Latest()
    shown: list[str] = []
    first = latest.only(shown.append)
    second = latest.only(shown.append)
    second("new")
    first("old")  # the older read finishing last must not replace what the newer one showed
    assert shown == ["new"]
