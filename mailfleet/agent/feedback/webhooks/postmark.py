"""Postmark's webhooks: basic auth, as Postmark signs nothing."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import Any

from mailfleet.agent.feedback.classify import Severity, Verdict
from mailfleet.agent.feedback.webhooks.events import (
    Refused,
    WebhookEvent,
    our_message_id,
    provider_verdict,
)
from mailfleet.agent.model import EventType

_POSTMARK_BOUNCES = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
# Postmark's bounce types that end the message without saying the address is dead: a soft
# bounce (Postmark stopped retrying) scores; an ISP block or DMARC refusal does not.
_POSTMARK_SOFT = {
    "SoftBounce": True,
    "Blocked": False,
    "DMARCPolicy": False,
}


def verify_postmark(credentials: str, headers: Mapping[str, str]) -> None:
    """Check the basic auth Postmark was configured to send; raises :class:`Refused`."""
    expected = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    if not hmac.compare_digest(headers.get("Authorization", ""), expected):
        raise Refused("bad credentials")


def parse_postmark(data: Mapping[str, Any]) -> list[WebhookEvent]:
    """The one event of a Postmark webhook payload."""
    record = str(data.get("RecordType", ""))
    message_id = our_message_id(data.get("Metadata"))
    if message_id is None:
        return []
    email = str(data.get("Email") or data.get("Recipient") or "")
    reason = str(data.get("Description") or data.get("Details") or "")
    event_id = str(data.get("ID", "")) if data.get("ID") is not None else ""
    if record == "Bounce":
        # A bounce's Details hold the receiving server's reply, its Description Postmark's
        # explanation of the type.
        reason = str(data.get("Details") or data.get("Description") or "")
        bounce_type = str(data.get("Type", ""))
        verdict = None
        if bounce_type == "SpamComplaint":
            kind = EventType.MESSAGE_COMPLAINED
        elif bounce_type == "Unsubscribe":  # the recipient asked by mail to be removed
            kind = EventType.MESSAGE_UNSUBSCRIBED
        elif bounce_type in _POSTMARK_BOUNCES:
            kind = EventType.MESSAGE_BOUNCED
            verdict = provider_verdict(True, "", reason)
        elif bounce_type in _POSTMARK_SOFT:
            kind = EventType.MESSAGE_BOUNCED
            verdict = provider_verdict(False, "", reason)
            if not _POSTMARK_SOFT[bounce_type]:
                verdict = Verdict(Severity.SOFT, "policy", scored=False)
        else:
            kind = EventType.MESSAGE_DEFERRED
        detail = f"Bounce ({bounce_type})"
        return [WebhookEvent(message_id, email, kind, reason, event_id, detail, verdict)]
    kinds = {
        "Delivery": EventType.MESSAGE_DELIVERED,
        "SpamComplaint": EventType.MESSAGE_COMPLAINED,
    }
    if record == "SubscriptionChange" and data.get("SuppressSending"):
        return [
            WebhookEvent(
                message_id, email, EventType.MESSAGE_UNSUBSCRIBED, reason, event_id, record
            )
        ]
    if record in kinds:
        return [WebhookEvent(message_id, email, kinds[record], reason, event_id, record)]
    return []
