"""The delivery queue keeps a message's strikes (worker deaths with it under way) in its row."""

from __future__ import annotations

import sqlite3

from mailfleet.agent.model import Content, EventType, MessageState, Sender, TransactionalMessage
from mailfleet.agent.store import messages, queue
from mailfleet.agent.store.queue import Settled

NOW = 1_800_000_000.0


def _queue_one(conn: sqlite3.Connection) -> None:
    message = TransactionalMessage(
        idempotency_key="receipt",
        sender=Sender("orders@shop.example"),
        email="buyer@example.com",
        email_norm="buyer@example.com",
        payload=b"",
        content=Content("Receipt", text="Thanks"),
        raw_mime=None,
    )
    messages.enqueue_transactional(conn, 1, message)


def test_strikes_go_back_to_the_queue_with_the_message_and_an_answer_clears_them(
    conn: sqlite3.Connection,
) -> None:
    _queue_one(conn)
    [first] = queue.claim_transactional(conn, 10, NOW, NOW + 600)
    assert first.strikes == 0
    queue.requeue(conn, [(first.id, 2)], NOW)
    # A restarted agent claims it again, and knows its worker died with it twice.
    assert queue.reset_leases(conn, NOW, every=True) == 0
    [again] = queue.claim_transactional(conn, 10, NOW, NOW + 600)
    assert (again.id, again.strikes, again.attempts) == (first.id, 2, 2)

    answered = Settled(again, MessageState.DEFERRED, EventType.MESSAGE_DEFERRED, next_at=NOW)
    queue.settle(conn, [answered], NOW)
    [third] = queue.claim_deferred(conn, 10, NOW, NOW + 600)
    assert third.strikes == 0
