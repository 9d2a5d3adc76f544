"""The store's single writer: one thread, one connection, group commit.

Callers on the event loop submit a function of the connection; the writer thread takes every job
that is waiting, runs each inside its own savepoint of one transaction, commits once, and then
answers all of them. A job that asked for durability makes that commit ``synchronous=FULL``
(an fsync of the WAL, which also covers every earlier commit), so concurrent callers share one
fsync. A failing job rolls back only its savepoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent.store.db import open_and_migrate

T = TypeVar("T")
log = logging.getLogger("mailfleet.agent.store")

_MAX_GROUP = 256


@dataclass
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    durable: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _settle(job: _Job, result: Any, error: BaseException | None) -> None:
    if job.future.done():  # the caller gave up waiting; the work is committed anyway
        return
    if error is None:
        job.future.set_result(result)
    else:
        job.future.set_exception(error)


class Writer:
    """Runs write jobs on the one writer connection, committing them in groups."""

    def __init__(self, path: Path, on_commit: Callable[[], None]) -> None:
        self._path = path
        self._on_commit = on_commit
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    def start(self) -> None:
        """Open the store (migrating it) on the writer thread; raise if that fails."""
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        """Finish every submitted job, then close the connection."""
        self._jobs.put(None)
        self._thread.join()

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``fn(conn)`` in the next group commit and return its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, durable, future, loop))
        return await future

    def _run(self) -> None:
        try:
            conn = open_and_migrate(self._path)
        except BaseException as exc:  # reported to start()'s caller
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                group = [first]
                stop_after = False
                while len(group) < _MAX_GROUP:
                    try:
                        nxt = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop_after = True
                        break
                    group.append(nxt)
                self._commit_group(conn, group)
                if stop_after:
                    return
        finally:
            conn.close()

    def _commit_group(self, conn: sqlite3.Connection, group: list[_Job]) -> None:
        durable = any(job.durable for job in group)
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job in group:
                conn.execute("SAVEPOINT job")
                try:
                    result = job.fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job, None, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("group commit failed; %d jobs rolled back", len(group))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(job, None, exc) for job in group]
        for job, result, error in outcomes:
            # RuntimeError: that loop is closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(_settle, job, result, error)
        self._on_commit()
