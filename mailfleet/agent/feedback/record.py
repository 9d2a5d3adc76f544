"""What bounces, complaints and unsubscribes do to the store: suppression entries, the
soft-bounce score, message states, events and the per-domain counts behind complaint rates.

The one API for every source of feedback: synchronous SMTP replies, DSNs and ARF reports
that come back to the bounce domain, one-click unsubscribes, and ESP webhooks. Each function
runs inside the caller's transaction (on the store's writer thread).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from mailfleet.agent.feedback.classify import EXPIRED, Verdict, classify
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.feedback.tokens import Subject
from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import campaigns, events, feedback, messages, suppression
from mailfleet.agent.store.queue import Settled
from mailfleet.agent.store.suppression import Entry, Reason

_DAY = 86400


@dataclass(frozen=True)
class About:
    """The message a piece of feedback is about (None when only the address is known)."""

    tenant_id: int
    email: str
    campaign_id: int | None = None
    message_id: int | None = None


def domain_of(email: str) -> str:
    """The address's domain, lower-case."""
    return email.rpartition("@")[2].strip().lower()


def lookup(conn: sqlite3.Connection, subject: Subject) -> About | None:
    """The message a genuine token names, if it exists with the tenant and campaign named."""
    found = messages.addressee(conn, subject.message_id)
    if found is None:
        return None
    if found.tenant_id != subject.tenant_id or (found.campaign_id or 0) != subject.campaign_id:
        return None
    return About(found.tenant_id, found.email, found.campaign_id, found.id)


def campaign_tags(conn: sqlite3.Connection, about: About) -> tuple[str, ...]:
    """The tags of the campaign the message ``about`` names belongs to (none for a
    transactional message)."""
    if about.campaign_id is None:
        return ()
    return campaigns.get_spec(conn, about.campaign_id).tags


def event(conn: sqlite3.Connection, about: About, type_: EventType, attrs: dict[str, str]) -> None:
    """Append one event about the message ``about`` names."""
    events.append(
        conn,
        about.tenant_id,
        type_,
        campaign_id=about.campaign_id,
        message_id=about.message_id,
        email=about.email,
        attrs=attrs,
    )


def _soft_bounces_reached(
    conn: sqlite3.Connection, about: About, now: float, settings: FeedbackSettings
) -> int:
    """Score one soft bounce; return how many the address has within the window."""
    since = now - settings.soft_bounce_days * _DAY
    return feedback.score_soft_bounce(
        conn, about.tenant_id, suppression.key(about.email), now, since
    )


def bounce(
    conn: sqlite3.Connection,
    about: About,
    verdict: Verdict,
    source: str,
    now: float,
    settings: FeedbackSettings,
) -> bool:
    """Record a bounce's effect on its address; True when the address is now suppressed.

    A hard bounce suppresses at once; a scored soft bounce suppresses once the address has
    ``soft_bounce_limit`` of them within ``soft_bounce_days``. No event: the caller records
    the bounce itself (see :func:`async_bounce` for bounces that arrive later by mail).
    """
    if verdict.hard:
        entry = Entry(about.email, Reason.HARD_BOUNCE, f"{source}: {verdict.reason}")
        return suppression.add(conn, about.tenant_id, [entry], now) > 0
    if not verdict.scored:
        return False
    reached = _soft_bounces_reached(conn, about, now, settings)
    if reached < settings.soft_bounce_limit:
        return False
    entry = Entry(
        about.email,
        Reason.HARD_BOUNCE,
        f"{reached} soft bounces within {settings.soft_bounce_days:g} days ({verdict.reason})",
    )
    return suppression.add(conn, about.tenant_id, [entry], now) > 0


def async_bounce(
    conn: sqlite3.Connection,
    about: About,
    verdict: Verdict,
    source: str,
    now: float,
    settings: FeedbackSettings,
    attrs: dict[str, str],
) -> bool:
    """A bounce that came back after the message was accepted (a DSN, an ESP webhook).

    The message, if known and delivered, becomes bounced; a MESSAGE_BOUNCED event says so.
    Returns whether the address is now suppressed.
    """
    if about.message_id is not None:
        reply = attrs.get("reply", "")[:1000]
        messages.mark_bounced(conn, about.tenant_id, about.message_id, reply, now)
    suppressed = bounce(conn, about, verdict, source, now, settings)
    event(
        conn,
        about,
        EventType.MESSAGE_BOUNCED,
        {
            **attrs,
            "bounce": verdict.severity.value,
            "bounce_reason": verdict.reason,
            "source": source,
            **({"suppressed": "1"} if suppressed else {}),
        },
    )
    return suppressed


def complaint(
    conn: sqlite3.Connection, about: About, source: str, now: float, attrs: dict[str, str]
) -> bool:
    """A spam complaint: suppress the address at once, count it for its domain, log it.

    Returns whether the address was newly suppressed.
    """
    entry = Entry(about.email, Reason.COMPLAINT, source)
    added = suppression.add(conn, about.tenant_id, [entry], now)
    feedback.count_complaint(conn, about.tenant_id, domain_of(about.email), now)
    event(conn, about, EventType.MESSAGE_COMPLAINED, {**attrs, "source": source})
    return added > 0


def unsubscribe(
    conn: sqlite3.Connection,
    about: About,
    source: str,
    now: float,
    scope: str = "",
    attrs: dict[str, str] | None = None,
) -> bool:
    """An unsubscribe: suppress the address for bulk mail; the event (with ``attrs``) is
    logged only the first time, so a repeated click or a second mail changes nothing. True
    when it was new."""
    entry = Entry(about.email, Reason.UNSUBSCRIBE, source, scope)
    if not suppression.add(conn, about.tenant_id, [entry], now):
        return False
    logged = {**(attrs or {}), "source": source, **({"scope": scope} if scope else {})}
    event(conn, about, EventType.MESSAGE_UNSUBSCRIBED, logged)
    return True


def settled(
    conn: sqlite3.Connection, results: Sequence[Settled], now: float, settings: FeedbackSettings
) -> None:
    """The feedback side of a group of delivery outcomes: delivered mail counted by domain,
    synchronous bounces (classified in :mod:`mailfleet.agent.delivery.outcomes`) and expiries
    scored."""
    delivered: Counter[tuple[int, str]] = Counter()
    for r in results:
        if r.state is MessageState.DELIVERED:
            delivered[(r.message.tenant_id, domain_of(r.message.email))] += 1
            continue
        if r.state is MessageState.BOUNCED:
            verdict = classify(r.attrs.get("enhanced", ""), r.reply)
        elif r.state is MessageState.FAILED and "expired" in r.attrs:
            verdict = EXPIRED
        else:
            continue
        m = r.message
        about = About(m.tenant_id, m.email, m.campaign_id, m.id)
        bounce(conn, about, verdict, "smtp", now, settings)
    if delivered:
        feedback.count_delivered(conn, delivered, now)
