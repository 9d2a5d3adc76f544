"""The store's single writer: one thread, one connection, group commit.

Callers on the event loop submit a function of the connection; the writer thread takes every job
that is waiting, runs each inside its own savepoint of one transaction, commits once, and then
answers all of them. A job that asked for durability makes that commit ``synchronous=FULL``
(an fsync of the WAL, which also covers every earlier commit), so concurrent callers share one
fsync. A failing job rolls back only its savepoint.

When a commit fails for lack of space the store enters its "disk full" state
(:mod:`mailfleet.agent.store.space`). Jobs submitted with ``wait_for_space`` (delivery results,
which must not be lost) are then held in memory and retried with backoff (committed as soon as they
fit); every other job fails at once with :class:`~mailfleet.agent.store.space.DiskFull`, without
touching the file. The state ends when a retry (or, with nothing held, a one-row probe) commits and
the file system has room again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mailfleet.agent.store.db import open_and_migrate
from mailfleet.agent.store.space import DiskFull, SpaceState, is_out_of_space

T = TypeVar("T")
log = logging.getLogger("mailfleet.agent.store")

_MAX_GROUP = 256
# Held jobs are retried after this long, doubling up to the cap, while the disk stays full.
_RETRY_FIRST = 0.25
_RETRY_MAX = 2.0
# Jobs held at most while the disk is full; each holds one group of delivery results (the
# scheduler waits for one before it settles the next), so this is far more than it needs.
MAX_HELD = 64


@dataclass
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    durable: bool
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    wait_for_space: bool = False


def _settle(job: _Job, result: Any, error: BaseException | None) -> None:
    if job.future.done():  # the caller gave up waiting; the work is committed anyway
        return
    if error is None:
        job.future.set_result(result)
    else:
        job.future.set_exception(error)


def _answer(job: _Job, result: Any, error: BaseException | None) -> None:
    # RuntimeError: that loop is closed, so nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(_settle, job, result, error)


def _probe(conn: sqlite3.Connection) -> None:
    """The smallest real write: it needs a fresh page of the log, as any job would."""
    conn.execute(
        "INSERT OR REPLACE INTO agent_meta (key, value) VALUES ('space_probe', ?)",
        (str(time.time()),),
    )


class Writer:
    """Runs write jobs on the one writer connection, committing them in groups."""

    def __init__(self, path: Path, on_commit: Callable[[], None], space: SpaceState) -> None:
        self._path = path
        self._on_commit = on_commit
        self._space = space
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._held: list[_Job] = []
        self._retry_in = _RETRY_FIRST
        self._retry_at = 0.0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    def start(self) -> None:
        """Open the store (migrating it) on the writer thread; raise if that fails."""
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        """Finish every submitted job, then close the connection (held jobs get one last try
        and then fail with :class:`DiskFull`)."""
        self._jobs.put(None)
        self._thread.join()

    def give_up_waiting(self) -> None:
        """From now on no job waits for space: held ones fail at their next retry (within
        seconds), new ones at once. For a stop while the disk is full."""
        self._stopping = True
        self._retry_at = 0.0

    async def run(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        durable: bool = True,
        wait_for_space: bool = False,
    ) -> T:
        """Run ``fn(conn)`` in the next group commit and return its result once committed.

        While the disk is full, a ``wait_for_space`` job waits (in memory) until it can be
        committed; any other raises :class:`DiskFull` at once.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, durable, future, loop, wait_for_space))
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
                timeout = max(0.0, self._retry_at - time.monotonic()) if self._space.full else None
                try:
                    first = self._jobs.get(timeout=timeout)
                except queue.Empty:
                    self._retry(conn)
                    continue
                if first is None:
                    break
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
                if self._space.full:
                    self._refuse_or_hold(group)
                    if time.monotonic() >= self._retry_at:
                        self._retry(conn)
                else:
                    self._commit_group(conn, group)
                if stop_after:
                    break
            if self._held:  # stop() while the disk is full: one last try
                self._stopping = True
                self._retry(conn)
        finally:
            conn.close()

    def _refuse_or_hold(self, group: list[_Job]) -> None:
        dropped = 0
        for job in group:
            if job.wait_for_space and not self._stopping and len(self._held) < MAX_HELD:
                self._held.append(job)
                continue
            dropped += job.wait_for_space
            _answer(job, None, DiskFull())
        self._space.set_held(len(self._held))
        if dropped:
            log.warning(
                "disk full: %d writes that would have waited for space fail instead (%s)",
                dropped,
                "the agent is stopping" if self._stopping else "too many are waiting",
            )

    def _retry(self, conn: sqlite3.Connection) -> None:
        """Try the held jobs again (or the probe, when none is held)."""
        held, self._held = self._held, []
        self._space.set_held(0)
        if held:
            self._commit_group(conn, held)
        elif self._space.roomy() and self._write_probe(conn):
            self._recovered()
        else:
            self._backoff()

    def _write_probe(self, conn: sqlite3.Connection) -> bool:
        try:
            conn.execute("BEGIN IMMEDIATE")
            _probe(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not is_out_of_space(exc):
                log.warning("the store's space probe failed: %s", exc)
            return False
        return True

    def _recovered(self) -> None:
        self._retry_in = _RETRY_FIRST
        self._space.leave()

    def _backoff(self) -> None:
        self._retry_at = time.monotonic() + self._retry_in
        self._retry_in = min(self._retry_in * 2, _RETRY_MAX)

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
                    if is_out_of_space(exc):
                        raise  # SQLite may have rolled back the whole transaction already
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job, None, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if is_out_of_space(exc):
                self._space.enter()
                self._backoff()
                self._refuse_or_hold(group)
                return
            log.exception("group commit failed; %d jobs rolled back", len(group))
            outcomes = [(job, None, exc) for job in group]
        if self._space.full:
            if self._space.roomy():
                self._recovered()
            else:
                self._backoff()
        for job, result, error in outcomes:
            _answer(job, result, error)
        self._on_commit()
