"""The suppression list in a real store file: entries, paging, and the checks at enqueue and
at dequeue."""

from __future__ import annotations

import json
import sqlite3
import time

from mailfleet.agent.model import (
    CampaignSpec,
    Content,
    EventType,
    MessageState,
    RecipientRows,
    Sender,
    TransactionalMessage,
)
from mailfleet.agent.store import campaigns, messages, queue, suppression
from mailfleet.agent.store.suppression import Entry, Reason

NOW = 1_800_000_000.0


def _campaign(conn: sqlite3.Connection, tags: tuple[str, ...] = ("news",), key: str = "c") -> int:
    spec = CampaignSpec(
        name="News",
        sender=Sender("news@shop.example"),
        content=Content("Hi", text="Hello"),
        idempotency_key=key,
        tags=tags,
    )
    return campaigns.create(conn, 1, spec).id


def _upload(conn: sqlite3.Connection, campaign_id: int, emails: list[str]) -> None:
    rows = RecipientRows(
        positions=list(range(len(emails))), rows=[(e, e.lower(), "") for e in emails]
    )
    campaigns.add_recipients(conn, 1, campaign_id, (), rows, rows.document())


def _states(conn: sqlite3.Connection, campaign_id: int) -> dict[str, MessageState]:
    return {
        email: MessageState(state)
        for email, state in conn.execute(
            "SELECT email, state FROM messages WHERE campaign_id = ?", (campaign_id,)
        )
    }


def _events(conn: sqlite3.Connection, type_: EventType) -> list[tuple[str, dict[str, str]]]:
    return [
        (email, json.loads(attrs) if attrs else {})
        for email, attrs in conn.execute(
            "SELECT email, attrs FROM events WHERE type = ? ORDER BY seq", (int(type_),)
        )
    ]


def test_entries_are_keyed_by_address_regardless_of_case_and_keep_their_first_reason(
    conn: sqlite3.Connection,
) -> None:
    assert (
        suppression.add(conn, 1, [Entry("Ann@Example.COM", Reason.UNSUBSCRIBE, "one-click")], NOW)
        == 1
    )
    assert suppression.add(conn, 1, [Entry("ann@example.com", Reason.COMPLAINT, "arf")], NOW) == 0
    found = suppression.lookup(conn, 1, ["ANN@example.com", "bob@example.com"])
    assert list(found) == ["ann@example.com"]
    (entry,) = found["ann@example.com"]
    assert (entry.email, entry.reason, entry.source) == (
        "Ann@Example.COM",
        Reason.UNSUBSCRIBE,
        "one-click",
    )
    # Another tenant's list is its own.
    assert suppression.lookup(conn, 2, ["ann@example.com"]) == {}
    assert suppression.remove(conn, 1, ["ann@EXAMPLE.com"], "") == 1
    assert suppression.lookup(conn, 1, ["ann@example.com"]) == {}


def test_listing_pages_through_every_entry_once_and_filters_by_reason(
    conn: sqlite3.Connection,
) -> None:
    entries = [
        Entry(f"user{i:03d}@example.com", Reason.MANUAL if i % 5 else Reason.COMPLAINT)
        for i in range(250)
    ]
    suppression.add(conn, 1, entries, NOW)
    seen: list[str] = []
    cursor = ("", "")
    while page := suppression.list_(conn, 1, cursor, 100):
        seen += [e.email for _, e in page]
        cursor = page[-1][0]
    assert seen == sorted(e.email for e in entries)
    complaints = suppression.list_(conn, 1, ("", ""), 1000, Reason.COMPLAINT)
    assert len(complaints) == 50
    assert suppression.count(conn, 1) == 250


def test_suppressed_recipients_are_suppressed_at_enqueue_with_an_event(
    conn: sqlite3.Connection,
) -> None:
    suppression.add(
        conn,
        1,
        [
            Entry("user1@example.com", Reason.HARD_BOUNCE),
            Entry("user2@example.com", Reason.UNSUBSCRIBE, scope="other-list"),
            Entry("user3@example.com", Reason.UNSUBSCRIBE, scope="news"),
        ],
        NOW,
    )
    suppression.add(conn, 2, [Entry("user4@example.com", Reason.MANUAL)], NOW)
    cid = _campaign(conn)
    _upload(conn, cid, [f"user{i}@example.com" for i in range(5)])
    states = _states(conn, cid)
    assert states == {
        "user0@example.com": MessageState.QUEUED,
        "user1@example.com": MessageState.SUPPRESSED,
        "user2@example.com": MessageState.QUEUED,  # its entry is for another list
        "user3@example.com": MessageState.SUPPRESSED,  # unsubscribed from this campaign's tag
        "user4@example.com": MessageState.QUEUED,  # suppressed by another tenant only
    }
    assert _events(conn, EventType.MESSAGE_SUPPRESSED) == [
        ("user1@example.com", {"reason": "hard_bounce", "stage": "enqueue"}),
        ("user3@example.com", {"reason": "unsubscribe", "stage": "enqueue", "scope": "news"}),
    ]


def test_an_unsubscribe_does_not_stop_transactional_mail_but_a_bounce_does(
    conn: sqlite3.Connection,
) -> None:
    suppression.add(
        conn,
        1,
        [
            Entry("left@example.com", Reason.UNSUBSCRIBE),
            Entry("dead@example.com", Reason.HARD_BOUNCE),
        ],
        NOW,
    )

    def send(email: str) -> MessageState:
        msg = TransactionalMessage(
            idempotency_key=email,
            sender=Sender("orders@shop.example"),
            email=email,
            email_norm=email,
            payload=b"",
            content=Content("Receipt", text="Thanks"),
            raw_mime=None,
        )
        stored, _ = messages.enqueue_transactional(conn, 1, msg)
        return stored.state

    assert send("left@example.com") is MessageState.QUEUED
    assert send("dead@example.com") is MessageState.SUPPRESSED


def test_an_address_suppressed_after_its_message_was_queued_is_stopped_at_dequeue(
    conn: sqlite3.Connection,
) -> None:
    cid = _campaign(conn)
    _upload(conn, cid, ["keep@example.com", "gone@example.com"])
    conn.execute("UPDATE campaigns SET state = 3 WHERE id = ?", (cid,))
    suppression.add(conn, 1, [Entry("GONE@example.com", Reason.UNSUBSCRIBE)], NOW)
    now = time.time()
    claimed = queue.claim_campaign(conn, cid, 10, now, now + 60)
    assert len(claimed) == 2
    kept = suppression.screen_claimed(conn, claimed, lambda m: ("news",), now)
    assert [m.email for m in kept] == ["keep@example.com"]
    assert _states(conn, cid) == {
        "keep@example.com": MessageState.IN_FLIGHT,
        "gone@example.com": MessageState.SUPPRESSED,
    }
    assert _events(conn, EventType.MESSAGE_SUPPRESSED) == [
        ("gone@example.com", {"reason": "unsubscribe", "stage": "dequeue"})
    ]
