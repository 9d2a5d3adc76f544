"""SendGrid's Signed Event Webhook: ECDSA over timestamp + body."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from mailfleet.agent.feedback.webhooks.events import (
    MAX_SKEW_SECONDS,
    Malformed,
    Refused,
    WebhookEvent,
    our_message_id,
    parse_json,
    provider_verdict,
)
from mailfleet.agent.model import EventType

_SENDGRID = {
    "delivered": EventType.MESSAGE_DELIVERED,
    "bounce": EventType.MESSAGE_BOUNCED,
    "deferred": EventType.MESSAGE_DEFERRED,
    "dropped": EventType.MESSAGE_FAILED,
    "spamreport": EventType.MESSAGE_COMPLAINED,
    "unsubscribe": EventType.MESSAGE_UNSUBSCRIBED,
    "group_unsubscribe": EventType.MESSAGE_UNSUBSCRIBED,
}


def verify_sendgrid(public_key: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Check the Signed Event Webhook signature; raises :class:`Refused`."""
    signature = headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not signature or not timestamp.isdigit():
        raise Refused("missing signature headers")
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Refused("timestamp too far from now")
    try:
        key = load_der_public_key(base64.b64decode(public_key))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(
            base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise Refused("bad signature") from exc


def parse_sendgrid(body: bytes) -> list[WebhookEvent]:
    """Events from SendGrid's JSON array."""
    data = parse_json(body)
    if not isinstance(data, list):
        raise Malformed("SendGrid sends a JSON array of events")
    found = []
    for item in data:
        if not isinstance(item, dict):
            raise Malformed("an event is not an object")
        kind = _SENDGRID.get(str(item.get("event", "")))
        message_id = our_message_id(item)
        if kind is None or message_id is None:
            continue
        reason = str(item.get("reason") or item.get("response") or "")
        detail = str(item.get("event"))
        if item.get("type"):
            detail += f" ({item['type']})"
        verdict = None
        if kind is EventType.MESSAGE_BOUNCED:
            # "bounce" is SendGrid's permanent failure, "blocked" its temporary one that it
            # stopped retrying.
            permanent = item.get("type", "bounce") != "blocked"
            verdict = provider_verdict(permanent, str(item.get("status", "")), reason)
        found.append(
            WebhookEvent(
                message_id,
                str(item.get("email", "")),
                kind,
                reason,
                str(item.get("sg_event_id", "")),
                detail,
                verdict,
            )
        )
    return found
