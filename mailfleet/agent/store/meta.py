"""Facts about the agent itself, kept in the store."""

from __future__ import annotations

import sqlite3
import uuid


def agent_id(conn: sqlite3.Connection) -> str:
    """The agent's stable id, created on first use."""
    conn.execute(
        "INSERT OR IGNORE INTO agent_meta (key, value) VALUES ('agent_id', ?)", (uuid.uuid4().hex,)
    )
    return str(conn.execute("SELECT value FROM agent_meta WHERE key = 'agent_id'").fetchone()[0])
