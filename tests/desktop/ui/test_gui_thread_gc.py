"""Garbage collection on the GUI thread only: a pool thread making garbage never collects it."""

from __future__ import annotations

import gc
import threading

from pytestqt.qtbot import QtBot

from mailfleet.desktop.ui.tasks import Task, TaskRunner


def test_garbage_is_collected_on_the_gui_thread_not_on_pool_threads(qtbot: QtBot) -> None:
    runner = TaskRunner()
    assert not gc.isenabled()
    collected_on: list[int] = []

    def note(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collected_on.append(threading.get_ident())

    def churn(_task: Task[int]) -> int:
        # Reference cycles, many times the threshold: automatic collection would run right here.
        for _ in range(50_000):
            cycle: list[object] = []
            cycle.append(cycle)
        return 0

    gc.callbacks.append(note)
    try:
        done: list[int] = []
        runner.run("making garbage", churn, done.append)
        qtbot.waitUntil(lambda: bool(done) and bool(collected_on), timeout=5000)
    finally:
        gc.callbacks.remove(note)
    assert set(collected_on) == {threading.get_ident()}
