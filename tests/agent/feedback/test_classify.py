"""Bounce classification by RFC 3463 status code and reply text."""

from __future__ import annotations

import pytest

from mailfleet.agent.feedback.classify import Severity, classify, is_permanent, status_code


@pytest.mark.parametrize(
    ("status", "text", "severity", "reason", "scored"),
    [
        (
            "5.1.1",
            "550 5.1.1 <a@b.example>: Recipient address rejected",
            "hard",
            "user_unknown",
            False,
        ),
        ("5.1.2", "550 5.1.2 Host unknown", "hard", "bad_domain", False),
        ("5.1.3", "501 5.1.3 Bad recipient address syntax", "hard", "bad_address", False),
        ("5.1.6", "550 5.1.6 Mailbox has moved", "hard", "moved", False),
        ("5.1.10", "556 5.1.10 Recipient address has null MX", "hard", "bad_domain", False),
        ("5.2.2", "552 5.2.2 Mailbox full", "soft", "mailbox_full", True),
        ("5.2.1", "550 5.2.1 Mailbox disabled", "soft", "mailbox_disabled", True),
        ("5.3.4", "552 5.3.4 Message too big for system", "soft", "message_too_large", False),
        ("5.2.3", "552 5.2.3 Message exceeds local size limit", "soft", "message_too_large", False),
        ("5.7.1", "550 5.7.1 Message rejected as spam", "soft", "policy", False),
        ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted", "soft", "policy", False),
        ("4.4.7", "Delivery time expired", "soft", "expired", True),
        # A precise code wins over its text.
        ("5.1.1", "550 5.1.1 mailbox full", "hard", "user_unknown", False),
        # A generic code leaves it to the text.
        ("5.0.0", "550 5.0.0 <x@y.example>... User unknown", "hard", "user_unknown", False),
        (
            "5.5.0",
            "550 5.5.0 Requested action not taken: mailbox unavailable",
            "hard",
            "user_unknown",
            False,
        ),
        ("5.0.0", "552 5.0.0 Mailbox quota exceeded", "soft", "mailbox_full", True),
        # 5.7.1 used for a dead mailbox by some servers: the text says so.
        ("5.7.1", "550 5.7.1 No such user here", "hard", "user_unknown", False),
        # No code at all.
        ("", "550 Requested action not taken: mailbox unavailable", "hard", "user_unknown", False),
        ("", "550 sorry, no mailbox here by that name", "hard", "user_unknown", False),
        (
            "",
            "554 Service unavailable; Client host blocked using zen.spamhaus.org",
            "soft",
            "policy",
            False,
        ),
        # The code found in the text when the caller has none.
        (
            "",
            "550 5.1.1 The email account that you tried to reach does not exist",
            "hard",
            "user_unknown",
            False,
        ),
        # Nothing recognisable: soft, and scored, so repeated failures still suppress.
        ("", "550 go away", "soft", "undetermined", True),
        ("5.9.9", "", "soft", "undetermined", True),
    ],
)
def test_bounces_are_classified(
    status: str, text: str, severity: str, reason: str, scored: bool
) -> None:
    verdict = classify(status, text)
    assert (verdict.severity, verdict.reason, verdict.scored) == (
        Severity(severity),
        reason,
        scored,
    )


def test_status_codes_are_found_in_reply_texts() -> None:
    assert status_code("550-5.1.1 The email account does not exist") == "5.1.1"
    assert status_code("Status: 4.2.2") == "4.2.2"
    assert status_code("no code 550") == ""


def test_permanence_follows_the_status_class_or_the_reply_code() -> None:
    assert is_permanent("5.1.1")
    assert not is_permanent("4.2.2")
    assert is_permanent("", "550 no such user")
    assert not is_permanent("", "451 try later")


@pytest.mark.parametrize(
    "text",
    [
        "550 5.1.1 <a@b.example> - 192.0.2.1 has sent to too many recipients this hour",
        "550 5.1.1 RCP-P2 Refused due to recipient preferences",
    ],
)
def test_a_throttle_or_the_recipients_filter_is_soft_whatever_the_code(text: str) -> None:
    verdict = classify("5.1.1", text)
    assert (verdict.severity, verdict.scored) == (Severity.SOFT, False)


def test_a_refusal_of_mail_from_is_the_senders() -> None:
    verdict = classify("5.1.1", "553 5.1.1 sender.example does not exist", after_mail=True)
    assert (verdict.severity, verdict.reason) == (Severity.SOFT, "sender")


def test_a_domain_that_does_not_exist_is_a_bad_domain() -> None:
    assert classify("", "553 mail.dest.example does not exist").reason == "bad_domain"
    assert classify("", "553 <a@dest.example> does not exist").reason == "user_unknown"
