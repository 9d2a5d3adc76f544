"""Recording webhook events in the store, with the effect each has on suppression."""

from __future__ import annotations

import logging
import sqlite3
import time

from mailfleet.agent.feedback import record as feedback
from mailfleet.agent.feedback.record import About
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.feedback.webhooks.events import (
    WebhookEvent,
    provider_verdict,
)
from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import messages

log = logging.getLogger("mailfleet.agent.webhooks")


def record(
    conn: sqlite3.Connection,
    found: list[WebhookEvent],
    provider: str,
    route: str,
    settings: FeedbackSettings,
) -> int:
    """Record the events of messages that exist and went to the event's recipient, with
    their effect on the suppression list; returns how many were recorded. Runs on the
    store's writer thread."""
    recorded = 0
    now = time.time()
    source = f"{provider} webhook"
    for event in found:
        sent = messages.addressee(conn, event.message_id)
        if sent is None or sent.email.lower() != event.email.lower():
            log.info(
                "%s webhook: no message %d to %s; event ignored",
                provider,
                event.message_id,
                event.email,
            )
            continue
        about = About(sent.tenant_id, sent.email, sent.campaign_id, sent.id)
        attrs = {"route": route, "event": event.detail}
        if event.reason:
            attrs["reply"] = event.reason
        if event.event_id:
            attrs["remote_event_id"] = event.event_id
        if event.type is EventType.MESSAGE_BOUNCED:
            if sent.state is MessageState.BOUNCED:
                continue  # already known
            verdict = event.verdict or provider_verdict(True, "", event.reason)
            feedback.async_bounce(conn, about, verdict, source, now, settings, attrs)
        elif event.type is EventType.MESSAGE_COMPLAINED:
            feedback.complaint(conn, about, source, now, attrs)
        elif event.type is EventType.MESSAGE_UNSUBSCRIBED:
            if not feedback.unsubscribe(conn, about, source, now, attrs=attrs):
                continue  # suppressed already: nothing changed
        else:
            feedback.event(conn, about, event.type, {"source": source, **attrs})
        recorded += 1
    return recorded
