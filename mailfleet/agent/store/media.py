"""Published images: content-addressed rows the public endpoint serves (``/m/<sha256>``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StoredMedia:
    """One published image; ``content`` is empty where only its description was read."""

    sha256: str
    content_type: str
    size: int
    content: bytes = b""


def put(
    conn: sqlite3.Connection, sha256: str, content_type: str, content: bytes, now: float
) -> None:
    """Keep an image under its digest; the same digest again changes nothing."""
    conn.execute(
        "INSERT INTO media (sha256, content_type, size, content, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        (sha256, content_type, len(content), content, now),
    )


def total_size(conn: sqlite3.Connection) -> int:
    """The bytes of every image kept, for the agent's media cap."""
    return int(conn.execute("SELECT coalesce(sum(size), 0) FROM media").fetchone()[0])


def find(conn: sqlite3.Connection, digests: Sequence[str]) -> list[StoredMedia]:
    """Which of ``digests`` are kept, without their bytes."""
    if not digests:
        return []
    marks = ", ".join("?" * len(digests))
    rows = conn.execute(
        f"SELECT sha256, content_type, size FROM media WHERE sha256 IN ({marks})",
        list(digests),
    ).fetchall()
    return [StoredMedia(*r) for r in rows]


def get(conn: sqlite3.Connection, sha256: str) -> StoredMedia | None:
    """One image with its bytes, or None."""
    row = conn.execute(
        "SELECT sha256, content_type, size, content FROM media WHERE sha256 = ?", (sha256,)
    ).fetchone()
    return StoredMedia(*row) if row else None
