"""The one background-task helper: run a function on a pool thread, hear back on the GUI thread.

Background functions never touch a widget; they get a ``Task`` to report progress and check
for cancellation, and their result (or exception) is delivered to callbacks on the GUI thread
through queued signals. Database writes go to a pool with a single thread, so they are
serialised in the order they were asked for; reads share a small pool of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from desktop.ui.qt import QObject, QRunnable, QThreadPool, Signal, isValid

T = TypeVar("T")


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)
    progress = Signal(object)


class Task(Generic[T]):
    """A running background function: its progress signal and its cancel flag."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.cancel_event = threading.Event()
        self.signals = _Signals()

    def report(self, value: object) -> None:
        """Send a progress value to the GUI thread (safe from any thread)."""
        self.signals.progress.emit(value)

    def cancel(self) -> None:
        """Ask the function to stop; it checks ``cancel_event`` when it can."""
        self.cancel_event.set()


class _Runnable(QRunnable, Generic[T]):
    def __init__(self, task: Task[T], function: Callable[[Task[T]], T]) -> None:
        super().__init__()
        self.task = task
        self.function = function

    def run(self) -> None:
        try:
            result = self.function(self.task)
        except Exception as exc:  # handed to the GUI thread, which shows it
            self.task.signals.failed.emit(exc)
        else:
            self.task.signals.done.emit(result)


class TaskRunner(QObject):
    """Starts background tasks and tells the status bar how many are running."""

    busy_changed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reads = QThreadPool(self)
        self.reads.setMaxThreadCount(2)
        self.writes = QThreadPool(self)
        self.writes.setMaxThreadCount(1)
        # Talking to agents (uploads, status, commands) waits on the network, not the database.
        self.network = QThreadPool(self)
        self.network.setMaxThreadCount(4)
        self._running: dict[int, Task[Any]] = {}

    def run(
        self,
        description: str,
        function: Callable[[Task[T]], T],
        on_done: Callable[[T], None],
        *,
        on_error: Callable[[Exception], None] | None = None,
        on_progress: Callable[[object], None] | None = None,
        write: bool = False,
        network: bool = False,
    ) -> Task[T]:
        """Run ``function(task)`` off the GUI thread; ``on_done(result)`` runs on the GUI
        thread. ``write=True`` queues it behind the other database writes; ``network=True``
        runs it beside them (agent calls that mostly wait)."""
        task: Task[T] = Task(description)
        self._running[id(task)] = task

        def finish() -> None:
            self._running.pop(id(task), None)
            self.busy_changed.emit(len(self._running), self._latest())

        # A result can arrive after the window that asked for it closed and deleted this runner:
        # there is nothing left to show it in, so it is dropped.
        def done(result: object) -> None:
            if not isValid(self):
                return
            finish()
            on_done(result)  # type: ignore[arg-type]

        def failed(exc: object) -> None:
            if not isValid(self):
                return
            finish()
            assert isinstance(exc, Exception)
            if on_error is not None:
                on_error(exc)
            else:
                raise exc

        task.signals.done.connect(done)
        task.signals.failed.connect(failed)
        if on_progress is not None:
            report = on_progress
            task.signals.progress.connect(lambda value: report(value) if isValid(self) else None)
        self.busy_changed.emit(len(self._running), description)
        pool = self.writes if write else self.network if network else self.reads
        pool.start(_Runnable(task, function))
        return task

    def cancel_all(self) -> None:
        """Ask every running task to stop (on shutdown: an import then rolls back)."""
        for task in list(self._running.values()):
            task.cancel()

    def _latest(self) -> str:
        return next(reversed(self._running.values())).description if self._running else ""

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every task has finished (for shutdown and tests)."""
        return all(p.waitForDone(msecs) for p in (self.reads, self.writes, self.network))
