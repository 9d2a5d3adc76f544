"""The store as the coordinator uses it: one writer, a few readers, a commit signal."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mailfleet.agent.store.checkpointer import Checkpointer
from mailfleet.agent.store.reader import Reader
from mailfleet.agent.store.space import SpaceState
from mailfleet.agent.store.writer import Writer

T = TypeVar("T")


class CommitSignal:
    """Wakes waiters after each commit.

    Take a :meth:`ticket` *before* reading, then wait on it: a commit that lands between the read
    and the wait still wakes the waiter.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        """The event the next commit will set."""
        return self._event

    def fire(self) -> None:
        """Called on the event loop after a commit."""
        event, self._event = self._event, asyncio.Event()
        event.set()


class Store:
    """Owns the writer thread and the readers of one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = CommitSignal()
        # Whether writes fail for lack of space: set by the writer, read by the layers above.
        self.space = SpaceState(path.parent)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer = Writer(path, self._committed, self.space)
        self._reader = Reader(path)
        self._checkpointer = Checkpointer(path)

    def open(self) -> None:
        """Migrate and start the writer; call from the event loop that will use the store."""
        self._loop = asyncio.get_running_loop()
        self._writer.start()
        self._checkpointer.start()

    def close(self) -> None:
        """Finish pending writes and close every connection."""
        self._checkpointer.stop()
        self._writer.stop()
        self._reader.close()

    def _committed(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
                self._loop.call_soon_threadsafe(self.commits.fire)

    async def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        durable: bool = True,
        wait_for_space: bool = False,
    ) -> T:
        """Run a write job in the next group commit (fsync'd when ``durable``).

        While the disk is full it raises :class:`mailfleet.agent.store.space.DiskFull` at once,
        unless ``wait_for_space``: then it waits, held in memory, until the write can be committed
        (for what must not be lost, such as delivery results).
        """
        return await self._writer.run(fn, durable=durable, wait_for_space=wait_for_space)

    def give_up_waiting(self) -> None:
        """Stop holding writes for space (the agent is stopping): they raise DiskFull."""
        self._writer.give_up_waiting()

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only job on a snapshot."""
        return await self._reader.run(fn)
