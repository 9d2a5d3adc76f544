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

from desktop.ui.qt import QObject, QRunnable, QThreadPool, Signal, Slot

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


class _Receiver(QObject):
    """Hears one task on the GUI thread, on behalf of the runner that is its parent.

    The task's signals are emitted on a pool thread, so Qt queues them to this object. Deleting
    the runner (its window closed) deletes this child, and Qt then disconnects it and discards
    the calls still queued to it: a late result or progress report finds nobody and is dropped.
    """

    def __init__(
        self,
        runner: TaskRunner,
        task: Task[Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None] | None,
        on_progress: Callable[[object], None] | None,
    ) -> None:
        super().__init__(runner)
        self._runner = runner
        self._task = task
        self._on_done = on_done
        self._on_error = on_error
        self._on_progress = on_progress

    @Slot(object)
    def done(self, result: object) -> None:
        self._finish()
        self._on_done(result)

    @Slot(object)
    def failed(self, exc: object) -> None:
        self._finish()
        assert isinstance(exc, Exception)
        if self._on_error is None:
            raise exc
        self._on_error(exc)

    @Slot(object)
    def progress(self, value: object) -> None:
        if self._on_progress is not None:
            self._on_progress(value)

    def _finish(self) -> None:
        self._runner._finished(self._task)
        # Progress reports queued before the result were delivered before it; nothing follows.
        self.deleteLater()


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
        receiver = _Receiver(self, task, on_done, on_error, on_progress)
        task.signals.done.connect(receiver.done)
        task.signals.failed.connect(receiver.failed)
        if on_progress is not None:
            task.signals.progress.connect(receiver.progress)
        self.busy_changed.emit(len(self._running), description)
        pool = self.writes if write else self.network if network else self.reads
        pool.start(_Runnable(task, function))
        return task

    def _finished(self, task: Task[Any]) -> None:
        self._running.pop(id(task), None)
        self.busy_changed.emit(len(self._running), self._latest())

    def cancel_all(self) -> None:
        """Ask every running task to stop (on shutdown: an import then rolls back)."""
        for task in list(self._running.values()):
            task.cancel()

    def _latest(self) -> str:
        return next(reversed(self._running.values())).description if self._running else ""

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every task has finished (for shutdown and tests)."""
        return all(p.waitForDone(msecs) for p in (self.reads, self.writes, self.network))
