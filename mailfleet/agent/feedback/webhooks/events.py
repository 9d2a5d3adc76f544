"""What every provider's webhook comes to: our events about our messages, and why a request
is refused."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailfleet.agent.feedback.classify import Severity, Verdict, classify
from mailfleet.agent.model import EventType
from mailfleet.agent.routes.esp.base import METADATA_KEY

# Signed requests older (or newer) than this are refused, so a captured one cannot be replayed.
MAX_SKEW_SECONDS = 600


class Refused(Exception):
    """The request is not the provider's (bad signature or credentials): 401."""


class Malformed(ValueError):
    """The body is not the provider's documented shape: 400."""


@dataclass(frozen=True)
class WebhookEvent:
    """One provider event about one of our messages."""

    message_id: int
    email: str
    type: EventType
    reason: str = ""
    event_id: str = ""  # the provider's id of the event, for dropping repeats
    detail: str = ""  # the provider's own event name ("bounce", "HardBounce", ...)
    verdict: Verdict | None = None  # what a bounce means for the address (bounces only)


def provider_verdict(permanent: bool, status: str, text: str) -> Verdict:
    """What a bounce the provider called permanent (or transient) means for the address.

    Our classifier reads the status code and diagnostic; the provider's word decides what
    the classifier cannot know. A permanent bounce is hard unless the diagnostic says the
    message or the sender was refused (a block says nothing about the address); a transient
    one (the provider gave up retrying) is soft and scored, even if its text sounds hard.
    """
    verdict = classify(status, text)
    if permanent:
        if verdict.hard or not verdict.scored:
            return verdict
        return Verdict(Severity.HARD, verdict.reason, scored=False)
    if verdict.hard:
        return Verdict(Severity.SOFT, verdict.reason, scored=True)
    return verdict


def our_message_id(metadata: Any) -> int | None:
    value = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
    if isinstance(value, list):  # SES tags are lists
        value = value[0] if value else None
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else None


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Malformed(f"not JSON: {exc}") from None


def json_object(body: bytes, what: str) -> dict[str, Any]:
    data = parse_json(body)
    if not isinstance(data, dict):
        raise Malformed(f"{what} is not a JSON object")
    return data
