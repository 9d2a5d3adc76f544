"""Inbound feedback mail, as raw bytes, applied to a real store file: bounces by VERP,
complaints by VERP or CFBL-Feedback-ID, mailto unsubscribes, forgeries dropped and counted."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from mailfleet.agent.feedback.inbound import InboundMail, process
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey
from mailfleet.agent.model import (
    CampaignSpec,
    Content,
    EventType,
    MessageState,
    RecipientRows,
    Sender,
)
from mailfleet.agent.store import campaigns, suppression
from mailfleet.agent.store import feedback as stats

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
NOW = 1_800_000_000.0
SETTINGS = FeedbackSettings()
DOMAIN = "bounce.shop.example"


@pytest.fixture
def key() -> TokenKey:
    return TokenKey(os.urandom(32))


@pytest.fixture
def sent(conn: sqlite3.Connection) -> dict[str, Subject]:
    """A campaign delivered to ann@ and bob@example.com: the subject of each message."""
    spec = CampaignSpec("News", Sender("news@shop.example"), Content("Hi", text="x"), "c1")
    cid = campaigns.create(conn, 1, spec).id
    emails = ["ann@example.com", "bob@example.com"]
    rows = RecipientRows(list(range(2)), [(e, e, "") for e in emails])
    campaigns.add_recipients(conn, 1, cid, (), rows, rows.document())
    conn.execute("UPDATE messages SET state = ?", (int(MessageState.DELIVERED),))
    return {
        email: Subject(1, cid, mid)
        for mid, email in conn.execute("SELECT id, email FROM messages ORDER BY id")
    }


def _sample(name: str, key: TokenKey, subject: Subject) -> bytes:
    data = (SAMPLES / name).read_bytes()
    data = data.replace(b"b-TOKEN@", f"b-{key.make(Purpose.BOUNCE, subject)}@".encode())
    return data.replace(b"FEEDBACKID", key.make(Purpose.FEEDBACK_ID, subject).encode())


def _verp(key: TokenKey, subject: Subject) -> str:
    return f"b-{key.make(Purpose.BOUNCE, subject)}@{DOMAIN}"


def _entries(conn: sqlite3.Connection, email: str) -> list[str]:
    found = suppression.lookup(conn, 1, [email]).get(email, [])
    return [e.reason.name.lower() for e in found]


def _events(conn: sqlite3.Connection, type_: EventType) -> list[tuple[str, dict[str, str]]]:
    rows = conn.execute(
        "SELECT email, attrs FROM events WHERE type = ? ORDER BY seq", (int(type_),)
    ).fetchall()
    return [(email, json.loads(attrs) if attrs else {}) for email, attrs in rows]


def _state(conn: sqlite3.Connection, subject: Subject) -> MessageState:
    row = conn.execute("SELECT state FROM messages WHERE id = ?", (subject.message_id,))
    return MessageState(row.fetchone()[0])


@pytest.mark.parametrize(
    "name",
    [
        "gmail-user-unknown.eml",
        "outlook-recipient-not-found.eml",
        "postfix-user-unknown.eml",
        "exim-user-unknown.eml",
        "qmail-no-mailbox.eml",
    ],
)
def test_a_hard_bounce_to_the_verp_address_suppresses_and_marks_the_message(
    conn: sqlite3.Connection, key: TokenKey, sent: dict[str, Subject], name: str
) -> None:
    ann = sent["ann@example.com"]
    mail = InboundMail(_verp(key, ann), _sample(name, key, ann))
    assert process(conn, key, mail, NOW, SETTINGS) == "bounce"
    assert _entries(conn, "ann@example.com") == ["hard_bounce"]
    assert _entries(conn, "bob@example.com") == []
    assert _state(conn, ann) is MessageState.BOUNCED
    ((email, attrs),) = _events(conn, EventType.MESSAGE_BOUNCED)
    assert (email, attrs["bounce"], attrs["source"], attrs["suppressed"]) == (
        "ann@example.com",
        "hard",
        "dsn",
        "1",
    )
    assert stats.inbound_counts(conn) == {"bounce": 1}


def test_a_soft_bounce_counts_towards_the_score_only(
    conn: sqlite3.Connection, key: TokenKey, sent: dict[str, Subject]
) -> None:
    ann = sent["ann@example.com"]
    mail = InboundMail(_verp(key, ann), _sample("yahoo-mailbox-full.eml", key, ann))
    strict = FeedbackSettings(soft_bounce_limit=2)
    assert process(conn, key, mail, NOW, strict) == "bounce"
    assert _entries(conn, "ann@example.com") == []
    assert process(conn, key, mail, NOW + 60, strict) == "bounce"
    assert _entries(conn, "ann@example.com") == ["hard_bounce"]  # 2 soft bounces within 7 days


@pytest.mark.parametrize("name", ["postfix-delayed.eml", "auto-reply.eml"])
def test_delay_notices_and_auto_replies_change_nothing(
    conn: sqlite3.Connection, key: TokenKey, sent: dict[str, Subject], name: str
) -> None:
    ann = sent["ann@example.com"]
    mail = InboundMail(_verp(key, ann), _sample(name, key, ann))
    assert process(conn, key, mail, NOW, SETTINGS) == "ignored"
    assert _entries(conn, "ann@example.com") == []
    assert _state(conn, ann) is MessageState.DELIVERED


@pytest.mark.parametrize("name", ["arf-abuse.eml", "arf-redacted.eml"])
def test_a_complaint_to_the_feedback_address_suppresses_at_once(
    conn: sqlite3.Connection, key: TokenKey, sent: dict[str, Subject], name: str
) -> None:
    """Matched by the reported copy's CFBL-Feedback-ID (or VERP path), even when the report
    redacts the complainant's address."""
    ann = sent["ann@example.com"]
    mail = InboundMail(f"fbl@{DOMAIN}", _sample(name, key, ann))
    assert process(conn, key, mail, NOW, SETTINGS) == "complaint"
    assert _entries(conn, "ann@example.com") == ["complaint"]
    ((email, attrs),) = _events(conn, EventType.MESSAGE_COMPLAINED)
    assert (email, attrs["feedback_type"]) == ("ann@example.com", "abuse")
    (rate,) = stats.complaint_rates(conn, 1, 30, NOW)
    assert (rate.domain, rate.complaints) == ("example.com", 1)


def test_a_mailto_unsubscribe_is_honoured(
    conn: sqlite3.Connection, key: TokenKey, sent: dict[str, Subject]
) -> None:
    bob = sent["bob@example.com"]
    address = f"u-{key.make(Purpose.UNSUBSCRIBE, bob)}@{DOMAIN}"
    body = b"From: bob@example.com\r\nSubject: unsubscribe\r\n\r\n"
    assert process(conn, key, InboundMail(address, body), NOW, SETTINGS) == "unsubscribe"
    assert _entries(conn, "bob@example.com") == ["unsubscribe"]
    assert [e for e, _ in _events(conn, EventType.MESSAGE_UNSUBSCRIBED)] == ["bob@example.com"]


def test_forged_unknown_and_unmatched_mail_is_dropped_and_counted(
    conn: sqlite3.Connection, key: TokenKey, sent: dict[str, Subject]
) -> None:
    ann = sent["ann@example.com"]
    dsn = _sample("gmail-user-unknown.eml", key, ann)
    other_key = TokenKey(os.urandom(32))
    token = key.make(Purpose.BOUNCE, ann)
    cases = [
        (f"b-{other_key.make(Purpose.BOUNCE, ann)}@{DOMAIN}", "forged"),
        (f"b-{token[:-1]}{'a' if token[-1] != 'a' else 'b'}@{DOMAIN}", "forged"),
        (f"b-{key.make(Purpose.UNSUBSCRIBE, ann)}@{DOMAIN}", "forged"),  # wrong purpose
        (f"u-{key.make(Purpose.BOUNCE, ann)}@{DOMAIN}", "forged"),
        (f"b-{key.make(Purpose.BOUNCE, Subject(1, ann.campaign_id, 999))}@{DOMAIN}", "unknown"),
        (
            f"b-{key.make(Purpose.BOUNCE, Subject(2, ann.campaign_id, ann.message_id))}@{DOMAIN}",
            "unknown",
        ),  # another tenant's claim on this message
    ]
    for address, outcome in cases:
        assert process(conn, key, InboundMail(address, dsn), NOW, SETTINGS) == outcome, address
    complaint = (SAMPLES / "arf-redacted.eml").read_bytes()  # its feedback ID is no token
    assert process(conn, key, InboundMail(f"fbl@{DOMAIN}", complaint), NOW, SETTINGS) == "unmatched"
    assert _entries(conn, "ann@example.com") == []
    assert _state(conn, ann) is MessageState.DELIVERED
    assert _events(conn, EventType.MESSAGE_BOUNCED) == []
    assert stats.inbound_counts(conn) == {"forged": 4, "unknown": 2, "unmatched": 1}
