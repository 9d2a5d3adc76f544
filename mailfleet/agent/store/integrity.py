"""A store file as a whole: SQLite's integrity check, what it holds, an online copy.

For backup and restore, which work on files rather than through the running agent's writer.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mailfleet.agent.store.schema import current_version


class DamagedStore(Exception):
    """The file is not a sound Mailfleet store; the message says why."""


@dataclass(frozen=True)
class StoreSummary:
    """What a sound store file holds."""

    schema_version: int
    messages: int
    events: int


def check(path: Path) -> StoreSummary:
    """Integrity-check a store file and count what it holds (DamagedStore if it is not sound)."""
    conn = sqlite3.connect(path)
    try:
        problems = conn.execute("PRAGMA integrity_check").fetchall()
        if problems != [("ok",)]:
            raise DamagedStore(f"{path} fails SQLite's integrity check: {problems[:3]}")
        version = current_version(conn)
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise DamagedStore(f"{path} is not a Mailfleet store: {exc}") from None
    finally:
        conn.close()
    return StoreSummary(version, int(messages), int(events))


def copy_online(source: Path, target: Path) -> None:
    """Copy a store that an agent may be writing to a new file, as one consistent moment."""
    src = sqlite3.connect(source)  # only read: WAL readers never block
    copy = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout = 10000")
        with copy:
            src.backup(copy)  # every page in one step: one consistent snapshot
    finally:
        copy.close()
        src.close()
