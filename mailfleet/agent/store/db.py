"""Opening the SQLite file with the settings every connection needs."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from mailfleet.agent.store.schema import migrate

T = TypeVar("T")

# Large enough that the recipients' unique index stays in memory during a big upload.
_CACHE_KIB = 65536
# The checkpointer thread keeps the log short; this is only the writer's own safety net.
_CHECKPOINT_PAGES = 262144


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, foreign keys on."""
    if read_only:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA query_only = ON")
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {_CHECKPOINT_PAGES}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    return conn


def open_and_migrate(path: Path) -> sqlite3.Connection:
    """Create or open the store and bring its schema up to date."""
    conn = connect(path)
    migrate(conn)
    return conn


@contextlib.contextmanager
def savepoint(conn: sqlite3.Connection, name: str) -> Iterator[None]:
    """A nested transaction: what the block did is undone if it raises (the error goes on)."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        raise
    finally:
        conn.execute(f"RELEASE {name}")


def write_once(path: Path, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` in one short write transaction on a connection of its own, migrating the
    store first: for command-line tools, which work beside a running agent's writer (the
    busy timeout waits for its commit) and while the agent is stopped."""
    conn = open_and_migrate(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result
    finally:
        conn.close()


def read_once(path: Path, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn`` on a connection of its own: for tools that read a store whether its agent
    runs or not (WAL readers never block its writer)."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        return fn(conn)
    finally:
        conn.close()


def ping(conn: sqlite3.Connection) -> None:
    """Ask the store the smallest question; raises sqlite3.Error if it cannot answer."""
    conn.execute("SELECT 1").fetchone()
