"""Moving due enrolments on: one write transaction per batch that runs the engine, queues the
messages of their send steps and records where each enrolment went.

Because the queued messages and the enrolment's move commit together, a crash before the
commit leaves both undone (the step runs again, once, after a restart) and a crash after it
leaves both done: each step runs exactly once per enrolment.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from mailfleet.agent.automations import definition as definitions
from mailfleet.agent.automations.definition import Definition, SendStep
from mailfleet.agent.automations.engine import Engagement, Plan, walk
from mailfleet.agent.model import Content, Lane, Sender, Tracking, payload
from mailfleet.agent.store import automations as store
from mailfleet.agent.store.automations import Advance, Due, EnrolmentState
from mailfleet.agent.store.contents import MessageContent
from mailfleet.agent.store.enqueue import Enqueue, enqueue
from mailfleet.agent.store.suppression import MARKETING_TAG
from mailfleet.agent.validation import normalize_address


class Definitions:
    """Parsed definitions by (automation, version): a version never changes once stored.

    Used only on the store's writer thread.
    """

    def __init__(self) -> None:
        self._parsed: dict[tuple[int, int], Definition] = {}

    def get(self, conn: sqlite3.Connection, automation_id: int, version: int) -> Definition:
        """The version's definition, read and parsed once."""
        key = (automation_id, version)
        found = self._parsed.get(key)
        if found is None:
            found = definitions.parse(store.version_definition(conn, automation_id, version))
            self._parsed[key] = found
        return found


@dataclass(frozen=True)
class _Walk:
    due: Due
    definition: Definition
    plan: Plan


def _content(step: SendStep, tags: tuple[str, ...]) -> MessageContent:
    return MessageContent(
        Sender(step.from_address, step.from_name),
        Content(step.subject, step.html, step.text),
        tags=tags,
        tracking=Tracking(step.track_opens, step.track_clicks),
    )


def _queue(conn: sqlite3.Connection, walks: list[_Walk], now: float) -> dict[tuple[int, int], int]:
    """Queue every send step the walks ran, one stored content per (version, step); returns
    the message id of each (enrolment, step)."""
    groups: dict[tuple[int, int, int], list[_Walk]] = defaultdict(list)
    for w in walks:
        for step in w.plan.sends:
            groups[(w.due.automation_id, w.due.version, step)].append(w)
    queued: dict[tuple[int, int], int] = {}
    for (automation_id, _, step), group in groups.items():
        first = group[0]
        send = first.definition.steps[step]
        assert isinstance(send, SendStep)
        tags = (*first.definition.tags, MARKETING_TAG)
        rows = [
            [
                w.due.email,
                normalize_address(w.due.email) or w.due.email,
                payload.encode_text(fields=w.due.fields),
            ]
            for w in group
        ]
        done = enqueue(
            conn,
            Enqueue(
                first.due.tenant_id,
                Lane.TRANSACTIONAL,
                json.dumps(rows),
                tags,
                content=_content(send, tags),
                queued_attrs={"lane": "automation", "automation": str(automation_id)},
            ),
            now,
        )
        for w, message_id in zip(group, done.ids, strict=True):
            queued[(w.due.enrolment_id, step)] = message_id
    return queued


def _move(w: _Walk, queued: dict[tuple[int, int], int]) -> Advance:
    plan = w.plan
    ran = [(s, queued.get((w.due.enrolment_id, s))) for s in plan.ran]
    if not plan.ended:
        return Advance(w.due, ran, plan.step, EnrolmentState.ACTIVE, plan.next_at)
    state = EnrolmentState.EXITED if plan.exited else EnrolmentState.FINISHED
    return Advance(w.due, ran, plan.step, state, w.due.next_at)


def advance_due(conn: sqlite3.Connection, now: float, limit: int, cache: Definitions) -> int:
    """Move on up to ``limit`` enrolments due at ``now``, in the caller's transaction; returns
    how many were due."""
    found = store.due(conn, now, limit)
    if not found:
        return 0
    seen = store.engagement(conn, (d.enrolment_id for d in found))
    walks = []
    for d in found:
        opened, clicked = seen.get(d.enrolment_id, (set(), set()))
        rules = cache.get(conn, d.automation_id, d.version)
        engagement = Engagement(frozenset(opened), frozenset(clicked))
        walks.append(_Walk(d, rules, walk(rules, d.step, d.fields, engagement, now)))
    queued = _queue(conn, walks, now)
    for w in walks:
        for tag in w.plan.tags:
            store.change_tag(conn, w.due.tenant_id, w.due.email, tag.tag, tag.action == "add", now)
    moved = store.advance(conn, [_move(w, queued) for w in walks], now)
    # Read and moved on the one writer connection in one transaction: nothing else can have
    # moved them in between.
    assert moved == len(walks)
    return len(found)
