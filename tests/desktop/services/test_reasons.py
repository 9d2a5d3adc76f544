"""Failure and bounce reasons in plain words, the server's own reply kept beside them."""

from __future__ import annotations

import re

import pytest

from mailfleet.desktop.services import reasons
from mailfleet.desktop.services.reasons import explain


@pytest.mark.parametrize(
    ("reply", "sentence"),
    [
        ("550 5.1.1 No such mailbox here", reasons.UNKNOWN_ADDRESS),
        ("550 5.1.1 <a@b.c>: Recipient address rejected: User unknown", reasons.UNKNOWN_ADDRESS),
        ("550 Requested action not taken: mailbox unavailable", reasons.UNKNOWN_ADDRESS),
        ("user_unknown", reasons.UNKNOWN_ADDRESS),  # the agent's code, when no reply came
        ("452 4.2.2 The email account that you tried to reach is over quota", reasons.MAILBOX_FULL),
        ("552 Mailbox full", reasons.MAILBOX_FULL),
        ("550 5.1.2 Host unknown: example.invalid", reasons.BAD_DOMAIN),
        ("554 5.4.4 no such domain", reasons.BAD_DOMAIN),
        ("bad_domain", reasons.BAD_DOMAIN),
        ("554 5.7.1 Message rejected as spam by Content Filtering", reasons.SPAM),
        ("550 Your IP is listed on the Spamhaus blocklist", reasons.SPAM),
        (
            "550 5.7.26 Unauthenticated email from shop.example.com is not accepted",
            reasons.AUTHENTICATION,
        ),
        (
            "rendering failed: address 'émilie.çava@exämple.com' needs SMTPUTF8",
            reasons.SMTPUTF8,
        ),
        ("553 5.6.7 The recipient's server does not support SMTPUTF8", reasons.SMTPUTF8),
        ("crashed the worker", reasons.CRASHED),
        ("554 5.7.1 <a@b.c>: Relay access denied", reasons.SPAM),  # 5.7.1 decides: policy
        ("554 Relay access denied", reasons.RELAY),
        ("timed out", reasons.TIMED_OUT),
        ("cannot connect: Connection refused", reasons.UNREACHABLE),
        ("TLS failed: CERTIFICATE_VERIFY_FAILED", reasons.TLS),
        ("421 4.7.0 Too many connections, try again later", reasons.THROTTLED),
        ("still deferred after 72 h", reasons.EXPIRED),
        ("552 5.3.4 Message size exceeds fixed limit", reasons.TOO_LARGE),
        ("451 Temporary local problem", reasons.TEMPORARY),
        ("554 Transaction failed", reasons.REFUSED),
    ],
)
def test_each_reply_gets_its_plain_sentence_and_keeps_the_original(
    reply: str, sentence: str
) -> None:
    explained = explain(reply)
    assert explained.sentence == sentence
    assert explained.original == reply


def test_no_reason_says_so_and_nothing_is_invented() -> None:
    for nothing in (None, "", "   "):
        assert explain(nothing) == reasons.Explained(reasons.NO_REASON, "")


def test_every_sentence_is_one_short_line_without_codes() -> None:
    sentences = {v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)}
    assert len(sentences) > 20
    for sentence in sentences:
        assert "\n" not in sentence and len(sentence) <= 110, sentence
        assert sentence.endswith(".") and sentence[0].isupper(), sentence
        assert not re.search(r"\d{3}|\d\.\d", sentence), sentence  # no reply or status codes


def test_wordings_of_one_cause_are_one_line_keeping_every_reply() -> None:
    rows = [
        ("bounced", "550 5.1.1 No such mailbox here", 2),
        ("bounced", "550 5.1.1 <x@y.z>: Recipient address rejected: User unknown", 1),
        ("failed", "crashed the worker", 1),
        ("bounced", "552 Mailbox full", 1),
        ("failed", None, 1),
    ]
    first, *rest = reasons.summarise(rows)
    assert (first.outcome, first.sentence, first.count) == ("bounced", reasons.UNKNOWN_ADDRESS, 3)
    assert first.originals == (
        ("550 5.1.1 No such mailbox here", 2),
        ("550 5.1.1 <x@y.z>: Recipient address rejected: User unknown", 1),
    )
    assert [(s.outcome, s.sentence, s.count) for s in rest] == [
        ("bounced", reasons.MAILBOX_FULL, 1),
        ("failed", reasons.CRASHED, 1),
        ("failed", reasons.NO_REASON, 1),
    ]
