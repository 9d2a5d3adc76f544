"""What bounces, complaints and unsubscribes do to a real store file."""

from __future__ import annotations

import sqlite3

from mailfleet.agent.feedback import record
from mailfleet.agent.feedback.classify import classify
from mailfleet.agent.feedback.record import About
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import feedback as stats
from mailfleet.agent.store import suppression
from mailfleet.agent.store.queue import Claimed, Settled

NOW = 1_800_000_000.0
DAY = 86400.0
SETTINGS = FeedbackSettings(soft_bounce_limit=3, soft_bounce_days=7)


def _suppressed(conn: sqlite3.Connection, email: str) -> list[str]:
    found = suppression.lookup(conn, 1, [email])
    return [f"{e.reason.name.lower()}: {e.source}" for e in found.get(suppression.key(email), [])]


def test_a_hard_bounce_suppresses_at_once(conn: sqlite3.Connection) -> None:
    about = About(1, "dead@example.com")
    assert record.bounce(conn, about, classify("5.1.1"), "smtp", NOW, SETTINGS)
    assert _suppressed(conn, "dead@example.com") == ["hard_bounce: smtp: user_unknown"]


def test_soft_bounces_suppress_after_the_limit_within_the_window(conn: sqlite3.Connection) -> None:
    about = About(1, "full@example.com")
    full = classify("5.2.2")
    # Two old bounces fall out of the window before the next ones count.
    assert not record.bounce(conn, about, full, "smtp", NOW - 10 * DAY, SETTINGS)
    assert not record.bounce(conn, about, full, "smtp", NOW - 9 * DAY, SETTINGS)
    assert not record.bounce(conn, about, full, "smtp", NOW - 2 * DAY, SETTINGS)
    assert not record.bounce(conn, about, full, "smtp", NOW - DAY, SETTINGS)
    assert _suppressed(conn, "full@example.com") == []
    assert record.bounce(conn, about, full, "smtp", NOW, SETTINGS)
    assert _suppressed(conn, "full@example.com") == [
        "hard_bounce: 3 soft bounces within 7 days (mailbox_full)"
    ]


def test_policy_blocks_never_count_against_the_address(conn: sqlite3.Connection) -> None:
    about = About(1, "fine@example.com")
    blocked = classify("5.7.1", "550 5.7.1 Message rejected as spam")
    for i in range(10):
        assert not record.bounce(conn, about, blocked, "smtp", NOW + i, SETTINGS)
    assert _suppressed(conn, "fine@example.com") == []


def _settled(mid: int, email: str, state: MessageState, **attrs: str) -> Settled:
    claimed = Claimed(mid, 1, 7, None, email, b"", None, 1, NOW)
    event = (
        EventType.MESSAGE_DELIVERED
        if state is MessageState.DELIVERED
        else EventType.MESSAGE_BOUNCED
    )
    return Settled(claimed, state, event, reply=attrs.pop("reply", ""), attrs=attrs)


def test_settled_outcomes_count_deliveries_and_complaints_make_a_rate(
    conn: sqlite3.Connection,
) -> None:
    results = [_settled(i, f"u{i}@gmail.com", MessageState.DELIVERED) for i in range(400)]
    results += [_settled(500 + i, f"u{i}@yahoo.com", MessageState.DELIVERED) for i in range(100)]
    results.append(
        _settled(999, "x@gmail.com", MessageState.BOUNCED, enhanced="5.1.1", reply="550 5.1.1 no")
    )
    record.settled(conn, results, NOW, SETTINGS)
    assert _suppressed(conn, "x@gmail.com") == ["hard_bounce: smtp: user_unknown"]
    for i in range(2):
        record.complaint(conn, About(1, f"u{i}@gmail.com", 7, i), "arf", NOW, {})
    rates = stats.complaint_rates(conn, 1, 30, NOW)
    assert [(r.domain, r.delivered, r.complaints) for r in rates] == [
        ("gmail.com", 400, 2),
        ("yahoo.com", 100, 0),
    ]
    assert rates[0].rate == 0.005
    assert _suppressed(conn, "u0@gmail.com") == ["complaint: arf"]
    # Outside the window nothing counts.
    assert stats.complaint_rates(conn, 1, 30, NOW + 31 * DAY) == []


def test_an_unsubscribe_is_logged_once(conn: sqlite3.Connection) -> None:
    about = About(1, "left@example.com", 7, 3)
    assert record.unsubscribe(conn, about, "one-click", NOW)
    assert not record.unsubscribe(conn, about, "one-click", NOW + 1)
    rows = conn.execute(
        "SELECT email, message_id FROM events WHERE type = ?",
        (int(EventType.MESSAGE_UNSUBSCRIBED),),
    ).fetchall()
    assert rows == [("left@example.com", 3)]
