"""The one background-task helper: run a function on a pool thread, hear back on the GUI thread.

Background functions never touch a widget; they get a ``Task`` to report progress and check
for cancellation, and their result (or exception) is delivered to callbacks on the GUI thread
through queued signals. Database writes go to a pool with a single thread, so they are
serialised in the order they were asked for; reads share a small pool of their own. Views reach
the database only through :meth:`TaskRunner.read` and :meth:`TaskRunner.write`: never on the GUI
thread, which would freeze the window for as long as the query takes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from mailfleet.desktop.ui.gui_thread_gc import collect_on_gui_thread
from mailfleet.desktop.ui.qt import QObject, QRunnable, QThreadPool, Signal, Slot

T = TypeVar("T")


class _Signals(QObject):
    # Each carries the task it is about, so that one receiver can serve every task.
    done = Signal(object, object)
    failed = Signal(object, object)
    progress = Signal(object, object)


class Task(Generic[T]):
    """A running background function: its progress signal and its cancel flag."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.cancel_event = threading.Event()
        self.signals = _Signals()

    def report(self, value: object) -> None:
        """Send a progress value to the GUI thread (safe from any thread)."""
        self.signals.progress.emit(self, value)

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
            self.task.signals.failed.emit(self.task, exc)
        else:
            self.task.signals.done.emit(self.task, result)


class Latest:
    """Keeps only the newest of a series of results: reads run two at a time and may finish
    out of order, and a view refreshed twice must end up showing the second read."""

    def __init__(self) -> None:
        self._asked = 0

    def only(self, on_done: Callable[[T], None]) -> Callable[[T], None]:
        """``on_done`` for the read about to start; it is skipped if a newer one started."""
        self._asked += 1
        asked = self._asked

        def deliver(result: T) -> None:
            if asked == self._asked:
                on_done(result)

        return deliver


def _told(
    description: str,
    function: Callable[[Task[T]], T],
    tell: Callable[[str, Exception | None], None],
    check: Callable[[str], None] | None = None,
) -> Callable[[Task[T]], T]:
    """``function`` after ``check`` let it run, telling ``tell`` how it ended."""

    def work(task: Task[T]) -> T:
        try:
            if check is not None:
                check(description)
            result = function(task)
        except Exception as exc:
            tell(description, exc)
            raise
        tell(description, None)
        return result

    return work


@dataclass(frozen=True)
class _Callbacks:
    task: Task[Any]
    on_done: Callable[[Any], None]
    on_error: Callable[[Exception], None] | None
    on_progress: Callable[[object], None] | None


class TaskRunner(QObject):
    """Starts background tasks and tells the status bar how many are running.

    The runner itself receives every task's signals: they are emitted on pool threads, so Qt
    queues them to the runner's (the GUI) thread. When the runner is deleted (its window
    closed), Qt disconnects it and discards the calls still queued to it, so a late result or
    progress report finds nobody and is dropped; no callback runs on a deleted window.
    """

    busy_changed = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_on_gui_thread()
        self.reads = QThreadPool(self)
        self.reads.setMaxThreadCount(2)
        self.writes = QThreadPool(self)
        self.writes.setMaxThreadCount(1)
        # Talking to agents (uploads, status, commands) waits on the network, not the database.
        self.network = QThreadPool(self)
        self.network.setMaxThreadCount(4)
        self._running: dict[int, _Callbacks] = {}
        # Told of every write once it has ended (with its error, if it failed), on the write
        # thread: the window keeps the team's audit log with it.
        self.on_write: Callable[[str, Exception | None], None] | None = None
        # Asked before every such write; it refuses by raising (a viewer's desktop).
        self.before_write: Callable[[str], None] | None = None

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
        audited: bool = True,
    ) -> Task[T]:
        """Run ``function(task)`` off the GUI thread; ``on_done(result)`` runs on the GUI
        thread. ``write=True`` queues it behind the other database writes (and tells
        ``on_write`` unless ``audited=False``: the app's own upkeep); ``network=True`` runs it
        beside them (agent calls that mostly wait)."""
        task: Task[T] = Task(description)
        self._running[id(task)] = _Callbacks(task, on_done, on_error, on_progress)
        task.signals.done.connect(self._done)
        task.signals.failed.connect(self._failed)
        if on_progress is not None:
            task.signals.progress.connect(self._progress)
        self.busy_changed.emit(len(self._running), description)
        pool = self.writes if write else self.network if network else self.reads
        if write and audited and self.on_write is not None:
            function = _told(description, function, self.on_write, self.before_write)
        pool.start(_Runnable(task, function))
        return task

    def read(
        self,
        engine: Engine,
        description: str,
        query: Callable[[Connection], T],
        on_done: Callable[[T], None],
        *,
        on_error: Callable[[Exception], None] | None = None,
    ) -> Task[T]:
        """Run ``query(conn)`` on a connection of ``engine`` off the GUI thread; ``on_done``
        gets its result on the GUI thread."""

        def work(_task: Task[T]) -> T:
            with engine.connect() as conn:
                return query(conn)

        return self.run(description, work, on_done, on_error=on_error)

    def write(
        self,
        engine: Engine,
        description: str,
        change: Callable[[Connection], T],
        on_done: Callable[[T], None],
        *,
        on_error: Callable[[Exception], None] | None = None,
        audited: bool = True,
    ) -> Task[T]:
        """Run ``change(conn)`` in one transaction, queued behind the other writes; ``on_done``
        gets its result on the GUI thread."""

        def work(_task: Task[T]) -> T:
            with engine.begin() as conn:
                return change(conn)

        return self.run(description, work, on_done, on_error=on_error, write=True, audited=audited)

    @Slot(object, object)
    def _done(self, task: Task[Any], result: object) -> None:
        callbacks = self._finish(task)
        if callbacks is not None:
            callbacks.on_done(result)

    @Slot(object, object)
    def _failed(self, task: Task[Any], exc: object) -> None:
        callbacks = self._finish(task)
        assert isinstance(exc, Exception)
        if callbacks is None:
            return
        if callbacks.on_error is None:
            raise exc
        callbacks.on_error(exc)

    @Slot(object, object)
    def _progress(self, task: Task[Any], value: object) -> None:
        callbacks = self._running.get(id(task))
        if callbacks is not None and callbacks.on_progress is not None:
            callbacks.on_progress(value)

    def _finish(self, task: Task[Any]) -> _Callbacks | None:
        callbacks = self._running.pop(id(task), None)
        self.busy_changed.emit(len(self._running), self._latest())
        return callbacks

    def cancel_all(self) -> None:
        """Ask every running task to stop (on shutdown: an import then rolls back)."""
        for callbacks in list(self._running.values()):
            callbacks.task.cancel()

    def _latest(self) -> str:
        return next(reversed(self._running.values())).task.description if self._running else ""

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every task has finished (for shutdown and tests)."""
        return all(p.waitForDone(msecs) for p in (self.reads, self.writes, self.network))
