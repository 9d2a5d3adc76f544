"""Pushing the workspace's suppression list to its agents, so every agent refuses what it holds.

The desktop keeps two cursors per agent: the last suppression entry pushed to it (entries have
ids that only grow) and the last removal pushed (a removal leaves a row in
``suppression_removals``). A push sends what lies past the cursors and moves them in the
desktop database after the agent confirmed, so an agent that was offline catches up when it is
back, a crash repeats at most the last chunk, and repeating is harmless: the agent keeps an
address's first entry and reports the rest as existing. On PostgreSQL a cursor moves past a
chunk only once no writer can still commit an id inside it (see ``_Step``), so an entry
committed out of id order is pushed late, never skipped.

Rules, as the marketer would expect them:

* Every entry with an address is pushed, whoever recorded it on the desktop (typed in, imported,
  or learned from another agent's bounce or complaint): a fleet suppresses as one. Entries of
  erased contacts have no address left and are not pushed.
* A removal on the desktop removes the entry on the agent only if the desktop put it there (its
  source starts with ``DESKTOP_SOURCE``). An entry the agent recorded itself (a bounce, a
  complaint, an unsubscribe it received) stays: the desktop cannot undo what a recipient asked
  of that agent. Such kept entries are counted in ``PushResult.kept``.
* Removals are pushed before additions, so an address removed and added again ends suppressed,
  and one added and removed again ends free, whatever the agent missed meanwhile.
* Additions always go through the agent's streaming bulk import (``ImportSuppressions``) in
  chunks of ``CHUNK`` entries; an address the agent refuses as invalid is reported, not retried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.db.models import Agent, Suppression, SuppressionReason, SuppressionRemoval
from mailfleet.desktop.services import commit_order
from mailfleet.v1 import suppression_pb2

# The agent-side source of every entry the desktop pushed: how a removal recognises its own.
DESKTOP_SOURCE = "mailfleet desktop"
# Entries read from the database and confirmed by the agent per step (the cursor moves after).
CHUNK = 50_000
# Entries per streamed message (the agent's own export page).
BATCH = 1_000
# Addresses per check or remove call (the agent's limit per call).
CHECK = 10_000
_SOURCE_LIMIT = 500
# How long a push waits for writers that might still commit an id inside what it just sent.
SETTLE_SECONDS = 2.0

_REASON = {
    SuppressionReason.MANUAL: suppression_pb2.SUPPRESSION_REASON_MANUAL,
    SuppressionReason.BOUNCED: suppression_pb2.SUPPRESSION_REASON_HARD_BOUNCE,
    SuppressionReason.COMPLAINED: suppression_pb2.SUPPRESSION_REASON_COMPLAINT,
    SuppressionReason.UNSUBSCRIBED: suppression_pb2.SUPPRESSION_REASON_UNSUBSCRIBE,
    SuppressionReason.ERASED: suppression_pb2.SUPPRESSION_REASON_MANUAL,
}


@dataclass
class PushResult:
    """What one push did on one agent."""

    added: int = 0
    existing: int = 0  # the agent had the address already (its own entry or an earlier push)
    removed: int = 0
    kept: int = 0  # removed on the desktop, but the agent's own entry stays
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (address, the agent's reason)
    # Entries and removals of the desktop's list handled (the cursors moved past them).
    sent: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything was pending and has been pushed."""
        return self.sent > 0


def agent_source(source: str) -> str:
    """The source an entry carries on the agent: marked as the desktop's."""
    text = f"{DESKTOP_SOURCE}: {source}" if source else DESKTOP_SOURCE
    return text[:_SOURCE_LIMIT]


def is_desktop_source(source: str) -> bool:
    """Whether an agent's entry was put there by a desktop push."""
    return source.startswith(DESKTOP_SOURCE)


def pending(conn: Connection, workspace_id: int, agent_id: int) -> int:
    """How many additions and removals still wait to be pushed to one agent."""
    cursors = conn.execute(
        select(Agent.suppression_cursor, Agent.removal_cursor).where(Agent.id == agent_id)
    ).first()
    if cursors is None:
        return 0
    additions = conn.scalar(
        select(func.count())
        .select_from(Suppression)
        .where(
            Suppression.workspace_id == workspace_id,
            Suppression.id > cursors.suppression_cursor,
            Suppression.email.is_not(None),
        )
    )
    removals = conn.scalar(
        select(func.count())
        .select_from(SuppressionRemoval)
        .where(
            SuppressionRemoval.workspace_id == workspace_id,
            SuppressionRemoval.id > cursors.removal_cursor,
        )
    )
    return int(additions or 0) + int(removals or 0)


def pending_by_agent(conn: Connection, workspace_id: int) -> dict[str, int]:
    """Agents with something left to push, by name, and how much."""
    found = {}
    for record in registry.list_agents(conn, workspace_id):
        count = pending(conn, workspace_id, record.id)
        if count:
            found[record.name] = count
    return found


def push(
    engine: Engine,
    workspace_id: int,
    record: AgentRecord,
    stop: threading.Event | None = None,
) -> PushResult:
    """Push what ``record``'s agent has not had yet (blocking: run it off the GUI thread).

    Nothing is sent, and the agent is not contacted, when nothing is pending. Raises
    ``registry.AgentError``, ``FingerprintMismatch`` or ``grpc.RpcError`` when the agent cannot
    be reached; what was confirmed before that stays pushed.
    """
    result = PushResult()
    with engine.connect() as conn:
        if not pending(conn, workspace_id, record.id):
            return result
    with registry.stubs(record) as agent:
        removals = _Step(
            Agent.removal_cursor, partial(_removals, workspace_id), _remover(agent, result)
        )
        additions = _Step(
            Agent.suppression_cursor, partial(_additions, workspace_id), _importer(agent, result)
        )
        for run, step in ((_push_removals, removals), (_push_additions, additions)):
            while not _stopped(stop) and run(step, engine, record.id, stop):
                pass
    return result


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _push_removals(
    step: _Step, engine: Engine, agent_id: int, stop: threading.Event | None
) -> bool:
    """One step of removals; False when there were none left."""
    return step.run(engine, agent_id, stop)


def _push_additions(
    step: _Step, engine: Engine, agent_id: int, stop: threading.Event | None
) -> bool:
    """One chunk of additions through the bulk import; False when there were none left."""
    return step.run(engine, agent_id, stop)


Rows = Sequence[Any]  # rows of the selects below


@dataclass
class _Step:
    """One table pushed past one cursor, a chunk at a time.

    The cursor moves past a chunk only once no writer can still commit an id inside it
    (``services/commit_order.py``); rows committed late inside it are sent then. A chunk that
    cannot be settled within ``SETTLE_SECONDS`` is still sent, but the cursor stays before it
    for the rest of this push, so the next push reads it again (the agent reports what it
    has as existing): an entry committed out of id order is never skipped.
    """

    cursor: InstrumentedAttribute[int]
    read: Callable[[Connection, int, int | None], Rows]  # (after, through or a chunk)
    send: Callable[[Rows], None]
    read_past: int = 0
    held: bool = False

    def run(self, engine: Engine, agent_id: int, stop: threading.Event | None) -> bool:
        """One chunk; False when there was none left."""
        with engine.connect() as conn:
            cursor = conn.scalar(select(self.cursor).where(Agent.id == agent_id)) or 0
            start = max(cursor, self.read_past)
            rows = self.read(conn, start, None)
            limit = commit_order.bound(conn)
        if not rows:
            return False
        self.send(rows)
        last = rows[-1].id
        self.read_past = last
        if start != cursor or self.held or not _settled(engine, limit, stop):
            self.held = True
            return True
        sent = {r.id for r in rows}
        with engine.connect() as conn:
            late = [r for r in self.read(conn, start, last) if r.id not in sent]
        if late:
            self.send(late)
        with engine.begin() as conn:
            conn.execute(
                update(Agent)
                .where(Agent.id == agent_id, self.cursor < last)
                .values({self.cursor: last})
            )
        return True


def _settled(engine: Engine, limit: int | None, stop: threading.Event | None) -> bool:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        with engine.connect() as conn:
            if commit_order.settled(conn, limit):
                return True
        if time.monotonic() > deadline or _stopped(stop):
            return False
        time.sleep(0.05)


def _removals(workspace_id: int, conn: Connection, after: int, through: int | None) -> Rows:
    query = select(SuppressionRemoval.id, SuppressionRemoval.email).where(
        SuppressionRemoval.workspace_id == workspace_id, SuppressionRemoval.id > after
    )
    query = query.limit(CHECK) if through is None else query.where(SuppressionRemoval.id <= through)
    return conn.execute(query.order_by(SuppressionRemoval.id)).all()


def _additions(workspace_id: int, conn: Connection, after: int, through: int | None) -> Rows:
    query = select(Suppression.id, Suppression.email, Suppression.reason, Suppression.source).where(
        Suppression.workspace_id == workspace_id,
        Suppression.id > after,
        Suppression.email.is_not(None),
    )
    query = query.limit(CHUNK) if through is None else query.where(Suppression.id <= through)
    return conn.execute(query.order_by(Suppression.id)).all()


def _remover(agent: AgentStubs, result: PushResult) -> Callable[[Rows], None]:
    def send(rows: Rows) -> None:
        emails = list(dict.fromkeys(r.email for r in rows))
        checked = agent.suppression.CheckSuppressions(
            suppression_pb2.CheckSuppressionsRequest(emails=emails), timeout=registry.CALL_TIMEOUT
        )
        ours = []
        for status in checked.statuses:
            mine = [e for e in status.entries if not e.scope and is_desktop_source(e.source)]
            if mine:
                ours.append(status.email)
            elif status.suppressed:
                result.kept += 1
        if ours:
            reply = agent.suppression.RemoveSuppressions(
                suppression_pb2.RemoveSuppressionsRequest(emails=ours),
                timeout=registry.CALL_TIMEOUT,
            )
            result.removed += reply.removed
        result.sent += len(rows)

    return send


def _importer(agent: AgentStubs, result: PushResult) -> Callable[[Rows], None]:
    def send(rows: Rows) -> None:
        entries = [
            suppression_pb2.SuppressionEntry(
                email=r.email,
                reason=_REASON[SuppressionReason(r.reason)],
                source=agent_source(r.source),
            )
            for r in rows
        ]
        summary = agent.suppression.ImportSuppressions(
            _batches(entries), timeout=registry.CALL_TIMEOUT * 12
        )
        result.added += summary.added
        result.existing += summary.existing
        result.invalid.extend((i.email, i.problem) for i in summary.invalid)
        result.sent += len(rows)

    return send


def _batches(
    entries: Sequence[suppression_pb2.SuppressionEntry],
) -> Iterator[suppression_pb2.SuppressionBatch]:
    for start in range(0, len(entries), BATCH):
        yield suppression_pb2.SuppressionBatch(entries=entries[start : start + BATCH])
