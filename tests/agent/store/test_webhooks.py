"""Webhook endpoints in the store: a cursor in the events log, a batch fixed until taken."""

from __future__ import annotations

import sqlite3

from mailfleet.agent.model import EventType
from mailfleet.agent.store import events, webhooks


def _append(conn: sqlite3.Connection, tenant: int, type_: EventType, n: int) -> None:
    for i in range(n):
        events.append(conn, tenant, type_, message_id=i + 1, email=f"r{i}@example.com")


def test_an_endpoint_gets_the_events_after_its_creation_in_batches(
    conn: sqlite3.Connection,
) -> None:
    _append(conn, 1, EventType.MESSAGE_QUEUED, 3)  # before it existed: not sent
    hook = webhooks.create(conn, 1, "https://h.example/in", [], "", "whsec_x", 1.0)
    _append(conn, 1, EventType.MESSAGE_QUEUED, 5)
    _append(conn, 2, EventType.MESSAGE_QUEUED, 4)  # another tenant's
    batch, through = webhooks.pending(conn, hook, 3)
    assert [e.seq for e in batch] == [4, 5, 6] and through == 6
    webhooks.begin(conn, hook, through)
    _append(conn, 1, EventType.MESSAGE_DELIVERED, 2)
    hook = webhooks.get(conn, 1, hook.id)
    again, through_again = webhooks.pending(conn, hook, 10)  # the same batch, however many wait
    assert again == batch and through_again == 6
    webhooks.delivered(conn, hook, through, len(batch), 2.0)
    hook = webhooks.get(conn, 1, hook.id)
    assert hook.after_seq == 6 and hook.batch_through is None and hook.delivered == 3
    rest, through = webhooks.pending(conn, hook, 10)
    assert [e.seq for e in rest] == [7, 8, 13, 14] and through == 14
    assert webhooks.backlog(conn, hook) == 4


def test_a_filter_passes_over_other_types(conn: sqlite3.Connection) -> None:
    hook = webhooks.create(
        conn, 1, "https://h.example/in", [EventType.MESSAGE_BOUNCED], "", "whsec_x", 1.0
    )
    _append(conn, 1, EventType.MESSAGE_QUEUED, 4)
    batch, through = webhooks.pending(conn, hook, 10)
    assert batch == [] and through == 4  # nothing to post; the cursor may move past them
    assert webhooks.backlog(conn, hook) == 0


def test_failing_past_the_limit_disables_with_the_reason(conn: sqlite3.Connection) -> None:
    hook = webhooks.create(conn, 1, "https://h.example/in", [], "", "whsec_x", 1.0)
    assert webhooks.failed(conn, hook, "it answered HTTP 500", 100.0, 105.0, 3600) == ""
    hook = webhooks.get(conn, 1, hook.id)
    assert hook.enabled and hook.failing_since == 100.0 and hook.attempts == 1
    reason = webhooks.failed(conn, hook, "it answered HTTP 502", 100.0 + 7200, 0.0, 3600)
    assert reason == "disabled after failing for 2 hours; the last try: it answered HTTP 502"
    hook = webhooks.get(conn, 1, hook.id)
    assert not hook.enabled and hook.disabled_reason == reason
    assert webhooks.due(conn, 1e9) == ([], None)
    hook = webhooks.update(conn, 1, hook.id, 9000.0, enabled=True)
    assert hook.enabled and hook.failing_since is None and hook.disabled_reason == ""
