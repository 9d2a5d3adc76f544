"""An agent's read position in one of its logs (events, signups), kept in the desktop database.

A batch read from an agent is applied in the transaction that moves the cursor, under a lock on
the agent's row, so two threads applying the same batch apply it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import InstrumentedAttribute

from mailfleet.desktop.db.models import Agent


class _Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


Item = TypeVar("Item", bound=_Sequenced)


def claim(
    conn: Connection,
    cursor_column: InstrumentedAttribute[int],
    workspace_id: int,
    agent_id: int,
    items: Sequence[Item],
    next_cursor: int = 0,
) -> tuple[int, list[Item], int]:
    """Lock the agent's row and return its cursor, the items after it, and where the cursor goes
    once they are applied (``next_cursor`` or the last item's seq, never back)."""
    cursor = conn.scalar(
        select(cursor_column)
        .where(Agent.id == agent_id, Agent.workspace_id == workspace_id)
        .with_for_update()
    )
    if cursor is None:
        raise LookupError(f"no agent {agent_id} in this workspace")
    fresh = [item for item in items if item.seq > cursor]
    return cursor, fresh, max([cursor, next_cursor, *(item.seq for item in fresh)])


def move(
    conn: Connection,
    cursor_column: InstrumentedAttribute[int],
    agent_id: int,
    cursor: int,
    target: int,
) -> None:
    """Move the agent's cursor from ``cursor`` to ``target`` (nothing when they are equal)."""
    if target != cursor:
        conn.execute(update(Agent).where(Agent.id == agent_id).values({cursor_column.key: target}))
