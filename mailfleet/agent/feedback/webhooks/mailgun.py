"""Mailgun's webhooks: HMAC-SHA256 of timestamp + token with the signing key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from mailfleet.agent.feedback.classify import EXPIRED, Severity, Verdict
from mailfleet.agent.feedback.webhooks.events import (
    MAX_SKEW_SECONDS,
    Malformed,
    Refused,
    WebhookEvent,
    our_message_id,
    provider_verdict,
)
from mailfleet.agent.model import EventType


def verify_mailgun(signing_key: str, data: Mapping[str, Any], now: float) -> None:
    """Check the HMAC in the payload's ``signature`` object; raises :class:`Refused`."""
    sig = data.get("signature")
    if not isinstance(sig, dict):
        raise Refused("no signature object")
    timestamp, token, signature = (str(sig.get(k, "")) for k in ("timestamp", "token", "signature"))
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Refused("timestamp missing or too far from now")
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused("bad signature")


def parse_mailgun(data: Mapping[str, Any]) -> list[WebhookEvent]:
    """The one event of a Mailgun webhook payload."""
    event = data.get("event-data")
    if not isinstance(event, dict):
        raise Malformed("no event-data object")
    name = str(event.get("event", ""))
    if name == "failed":
        permanent = event.get("severity") == "permanent"
        kind = EventType.MESSAGE_BOUNCED if permanent else EventType.MESSAGE_DEFERRED
    else:
        kind = {
            "delivered": EventType.MESSAGE_DELIVERED,
            "complained": EventType.MESSAGE_COMPLAINED,
            "unsubscribed": EventType.MESSAGE_UNSUBSCRIBED,
        }.get(name, EventType.MESSAGE_QUEUED)
    message_id = our_message_id(event.get("user-variables"))
    if kind is EventType.MESSAGE_QUEUED or message_id is None:
        return []
    status = event.get("delivery-status")
    reason = ""
    if isinstance(status, dict):
        code = status.get("code")
        text = status.get("message") or status.get("description") or ""
        reason = f"{code} {text}".strip() if code else str(text)
    detail = name + (f" ({event['severity']})" if event.get("severity") else "")
    verdict = None
    if kind is EventType.MESSAGE_BOUNCED:
        verdict = _mailgun_verdict(str(event.get("reason", "")), status, reason)
    return [
        WebhookEvent(
            message_id,
            str(event.get("recipient", "")),
            kind,
            reason,
            str(event.get("id", "")),
            detail,
            verdict,
        )
    ]


def _mailgun_verdict(why: str, status: Any, reply: str) -> Verdict:
    """A permanent Mailgun failure by its ``reason``: "old" means Mailgun gave up retrying
    (the address kept deferring), "espblock" that Mailgun itself refused to send."""
    if why == "old":
        return EXPIRED
    if why == "espblock":
        return Verdict(Severity.SOFT, "policy", scored=False)
    code = ""
    if isinstance(status, dict):
        code = str(status.get("enhanced-code") or "")
    return provider_verdict(True, code, reply)
