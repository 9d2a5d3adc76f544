"""The one enqueue path: campaign uploads, transactional sends and SMTP submissions all store
their messages with the same statement, screened by suppression in the caller's transaction.

Each lane is driven through the store function its service calls (the gRPC campaign upload,
the gRPC transactional send, the SMTP intake's store job) on a real store file.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence

import pytest

from mailfleet.agent.intake.queueing import Submission
from mailfleet.agent.intake.queueing import enqueue as submit
from mailfleet.agent.model import (
    CampaignSpec,
    Content,
    EventType,
    Lane,
    MessageState,
    RecipientRows,
    Sender,
    TransactionalMessage,
)
from mailfleet.agent.store import campaigns, messages, suppression
from mailfleet.agent.store.suppression import Entry, Reason

Lane_ = Callable[[sqlite3.Connection, Sequence[str]], None]
NOW = 1_800_000_000.0


def _campaign(conn: sqlite3.Connection, emails: Sequence[str]) -> None:
    spec = CampaignSpec("News", Sender("news@shop.example"), Content("Hi", text="Hello"), "key")
    cid = campaigns.create(conn, 1, spec).id
    rows = RecipientRows(positions=list(range(len(emails))), rows=[(e, e, "") for e in emails])
    campaigns.add_recipients(conn, 1, cid, (), rows, rows.document())


def _transactional(conn: sqlite3.Connection, emails: Sequence[str]) -> None:
    for email in emails:
        msg = TransactionalMessage(
            idempotency_key=f"receipt-{email}",
            sender=Sender("orders@shop.example"),
            email=email,
            email_norm=email,
            payload=b"",
            content=Content("Receipt", text="Thanks"),
            raw_mime=None,
        )
        messages.enqueue_transactional(conn, 1, msg)


def _smtp(conn: sqlite3.Connection, emails: Sequence[str]) -> None:
    sub = Submission(
        tenant_id=1,
        username="app",
        mail_from="app@shop.example",
        recipients=tuple((e, e) for e in emails),
        data=b"Subject: hi\r\n\r\nhello\r\n",
    )
    submit(conn, sub)


LANES: dict[str, tuple[Lane_, Lane]] = {
    "campaign": (_campaign, Lane.BULK),
    "transactional": (_transactional, Lane.TRANSACTIONAL),
    "smtp": (_smtp, Lane.TRANSACTIONAL),
}
# Bound values as the trace shows them, so statements compare by their shape.
_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b|\bNULL\b")


def _message_inserts(conn: sqlite3.Connection, lane: Lane_, emails: Sequence[str]) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        lane(conn, emails)
    finally:
        conn.set_trace_callback(None)
    return [
        _LITERAL.sub("?", s) for s in seen if s.lstrip().upper().startswith("INSERT INTO MESSAGES")
    ]


def test_every_lane_stores_its_messages_with_the_one_enqueue_statement(
    conn: sqlite3.Connection,
) -> None:
    shapes = {}
    for name, (lane, _) in LANES.items():
        inserts = _message_inserts(conn, lane, [f"{name}-a@example.com"])
        assert len(inserts) == 1, name
        shapes[name] = inserts[0]
    assert len(set(shapes.values())) == 1, shapes
    # A submission to several recipients is still one statement, not one per recipient.
    assert len(_message_inserts(conn, _smtp, ["b@example.com", "c@example.com"])) == 1


@pytest.mark.parametrize("name", list(LANES))
def test_every_lane_is_screened_by_suppression_in_the_callers_transaction(
    conn: sqlite3.Connection, name: str
) -> None:
    lane, kind = LANES[name]
    suppression.add(conn, 1, [Entry("Dead@Example.com", Reason.HARD_BOUNCE)], NOW)
    conn.execute("BEGIN")
    lane(conn, ["dead@example.com", "alive@example.com"])
    rows = conn.execute(
        "SELECT email, lane, state, attempts, created_at = updated_at, payload IS NOT NULL"
        " FROM messages ORDER BY id"
    ).fetchall()
    assert rows == [
        ("dead@example.com", int(kind), int(MessageState.SUPPRESSED), 0, 1, 1),
        ("alive@example.com", int(kind), int(MessageState.QUEUED), 0, 1, 1),
    ]
    suppressed = conn.execute(
        "SELECT email, attrs FROM events WHERE type = ?", (int(EventType.MESSAGE_SUPPRESSED),)
    ).fetchall()
    assert [(e, json.loads(a)) for e, a in suppressed] == [
        ("dead@example.com", {"reason": "hard_bounce", "stage": "enqueue"})
    ]
    conn.execute("ROLLBACK")
    # The lane wrote nothing outside the caller's transaction.
    assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)


@pytest.mark.parametrize("name", list(LANES))
def test_every_lane_logs_what_it_queued(conn: sqlite3.Connection, name: str) -> None:
    lane, _ = LANES[name]
    lane(conn, ["a@example.com", "b@example.com"])
    logged = conn.execute(
        "SELECT type, message_id, email, attrs FROM events WHERE type IN (?, ?) ORDER BY seq",
        (int(EventType.RECIPIENTS_ADDED), int(EventType.MESSAGE_QUEUED)),
    ).fetchall()
    if name == "campaign":  # one event for the batch, however large
        assert [(t, m, json.loads(a)) for t, m, _, a in logged] == [
            (int(EventType.RECIPIENTS_ADDED), None, {"count": "2"})
        ]
        return
    ids = [r[0] for r in conn.execute("SELECT id FROM messages ORDER BY id")]
    assert [(t, m, e) for t, m, e, _ in logged] == [
        (int(EventType.MESSAGE_QUEUED), ids[0], "a@example.com"),
        (int(EventType.MESSAGE_QUEUED), ids[1], "b@example.com"),
    ]
    assert all(json.loads(a)["lane"] == "transactional" for *_, a in logged)
