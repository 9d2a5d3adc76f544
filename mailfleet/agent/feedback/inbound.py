"""Inbound feedback mail: what one message to the bounce domain means, and its effects.

The recipient's local part says what the message is for:

- ``b-<token>``: the VERP return path of one message; the mail is a bounce (an RFC 3464 DSN
  or an older MTA's own format), a complaint report, or an auto-reply (ignored);
- ``u-<token>``: a mailto unsubscribe (the List-Unsubscribe header's second target);
- anything else (``fbl@``, the CFBL-Address): complaint reports, matched to a message by the
  CFBL-Feedback-ID or the VERP return path in the reported message's headers.

A token that does not verify is dropped and counted ("forged"), as is a genuine token for a
message that no longer exists ("unknown"). Every message ends in one counted outcome.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from email.message import Message

from mailfleet.agent.feedback import record
from mailfleet.agent.feedback.record import About
from mailfleet.agent.feedback.reports import Finding, Kind, Report, parse
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey
from mailfleet.agent.store import feedback
from mailfleet.agent.store.db import savepoint
from mailfleet.agent.store.feedback import ShuntedMail

log = logging.getLogger("mailfleet.agent.feedback")

# ARF feedback types that are a recipient's complaint; "not-spam", "auth-failure" and
# "virus" reports are not, and change nothing.
_COMPLAINT_TYPES = frozenset({"abuse", "fraud", "other"})
_VERP = re.compile(r"\bb-([0-9a-f]{16,64})@", re.IGNORECASE)


@dataclass(frozen=True)
class InboundMail:
    """One message as the SMTP intake stored it, for one recipient."""

    rcpt_to: str
    data: bytes
    mail_from: str = ""


def _subject_in(original: Message | None, key: TokenKey) -> Subject | None:
    """The message a reported copy names: by its CFBL-Feedback-ID, else its VERP path."""
    if original is None:
        return None
    for value in original.get_all("CFBL-Feedback-ID") or []:
        subject = key.read(Purpose.FEEDBACK_ID, str(value).strip())
        if subject is not None:
            return subject
    for name in ("Return-Path", "X-Original-Return-Path", "Received"):
        for value in original.get_all(name) or []:
            for token in _VERP.findall(str(value)):
                subject = key.read(Purpose.BOUNCE, token.lower())
                if subject is not None:
                    return subject
    return None


def _finding_for(report: Report, kind: Kind, email: str) -> Finding | None:
    """The report's finding of ``kind`` for ``email``, else its first of that kind."""
    found = [f for f in report.findings if f.kind is kind]
    for f in found:
        if f.recipient.lower() == email.lower():
            return f
    return found[0] if found else None


def _apply(
    conn: sqlite3.Connection,
    about: About,
    report: Report,
    now: float,
    settings: FeedbackSettings,
) -> str:
    complaint = _finding_for(report, Kind.COMPLAINT, about.email)
    if complaint is not None:
        if complaint.feedback_type not in _COMPLAINT_TYPES:
            return "ignored"
        record.complaint(conn, about, "arf", now, {"feedback_type": complaint.feedback_type})
        return "complaint"
    bounce = _finding_for(report, Kind.BOUNCE, about.email)
    if bounce is not None and bounce.verdict is not None:
        attrs = {"status": bounce.status, "reply": bounce.diagnostic[:1000]}
        record.async_bounce(
            conn, about, bounce.verdict, "dsn", now, settings, {k: v for k, v in attrs.items() if v}
        )
        return "bounce"
    return "ignored"


def _outcome(
    conn: sqlite3.Connection,
    key: TokenKey,
    mail: InboundMail,
    now: float,
    settings: FeedbackSettings,
) -> str:
    local = mail.rcpt_to.rpartition("@")[0].lower()
    if local.startswith("u-"):
        subject = key.read(Purpose.UNSUBSCRIBE, local[2:])
        if subject is None:
            return "forged"
        about = record.lookup(conn, subject)
        if about is None:
            return "unknown"
        record.unsubscribe(conn, about, "mailto", now)
        return "unsubscribe"
    if local.startswith("b-"):
        subject = key.read(Purpose.BOUNCE, local[2:])
        if subject is None:
            return "forged"
        report = parse(mail.data)
    else:
        report = parse(mail.data)
        if report.kind is not Kind.COMPLAINT:
            return "ignored"
        subject = _subject_in(report.original, key)
        if subject is None:
            return "unmatched"
    about = record.lookup(conn, subject)
    if about is None:
        return "unknown"
    return _apply(conn, about, report, now, settings)


def process(
    conn: sqlite3.Connection,
    key: TokenKey,
    mail: InboundMail,
    now: float,
    settings: FeedbackSettings,
) -> str:
    """Apply one inbound message's effects in the caller's transaction and count it.

    Returns the outcome: bounce, complaint, unsubscribe, ignored (auto-replies, delay
    notices, non-complaint reports), forged, unknown, unmatched (a complaint naming none of
    our messages), or shunted (processing failed; the message is kept in feedback_shunt).
    """
    try:
        with savepoint(conn, "inbound"):
            outcome = _outcome(conn, key, mail, now, settings)
    except Exception as exc:
        log.exception("inbound feedback mail for %s could not be processed; shunted", mail.rcpt_to)
        error = f"{type(exc).__name__}: {exc}"
        feedback.shunt(conn, ShuntedMail(now, mail.rcpt_to, mail.mail_from, mail.data, error))
        outcome = "shunted"
    feedback.count_inbound(conn, outcome)
    if outcome in ("forged", "unknown", "unmatched"):
        log.info("inbound feedback mail for %s dropped: %s", mail.rcpt_to, outcome)
    return outcome
