"""Recording webhook events in the store, with the effect each has on suppression."""

from __future__ import annotations

import logging
import sqlite3
import time

from agent.feedback import record as feedback
from agent.feedback.record import About
from agent.feedback.settings import FeedbackSettings
from agent.feedback.webhooks.events import (
    WebhookEvent,
    provider_verdict,
)
from agent.model import EventType, MessageState
from agent.store import events

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
        row = conn.execute(
            "SELECT tenant_id, campaign_id, email, state FROM messages WHERE id = ?",
            (event.message_id,),
        ).fetchone()
        if row is None or row[2].lower() != event.email.lower():
            log.info(
                "%s webhook: no message %d to %s; event ignored",
                provider,
                event.message_id,
                event.email,
            )
            continue
        tenant_id, campaign_id, email, state = row
        about = About(tenant_id, email, campaign_id, event.message_id)
        attrs = {"route": route, "event": event.detail}
        if event.reason:
            attrs["reply"] = event.reason
        if event.event_id:
            attrs["remote_event_id"] = event.event_id
        if event.type is EventType.MESSAGE_BOUNCED:
            if state == MessageState.BOUNCED:
                continue  # already known
            verdict = event.verdict or provider_verdict(True, "", event.reason)
            feedback.async_bounce(conn, about, verdict, source, now, settings, attrs)
        elif event.type is EventType.MESSAGE_COMPLAINED:
            feedback.complaint(conn, about, source, now, attrs)
        elif event.type is EventType.MESSAGE_UNSUBSCRIBED:
            if not feedback.unsubscribe(conn, about, source, now, attrs=attrs):
                continue  # suppressed already: nothing changed
        else:
            events.append(
                conn,
                tenant_id,
                event.type,
                campaign_id=campaign_id,
                message_id=event.message_id,
                email=email,
                attrs={"source": source, **attrs},
            )
        recorded += 1
    return recorded
