"""From a route's outcome to what the store records: retries with backoff, expiry, events.

Pure: no I/O, the clock and the randomness come in as arguments.
"""

from __future__ import annotations

import random

from mailfleet.agent.delivery.settings import DeliverySettings
from mailfleet.agent.feedback.classify import classify
from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.routes.base import Outcome, OutcomeKind
from mailfleet.agent.store.queue import Claimed, Settled


def retry_delay(attempts: int, settings: DeliverySettings, rng: random.Random) -> float:
    """Seconds until the next try: exponential from the base, capped, with ±20 % jitter.

    The jitter spreads retries of a whole campaign deferred at once by one destination.
    """
    growth: float = 2.0 ** max(attempts - 1, 0)
    base = min(settings.retry_max_seconds, settings.retry_base_seconds * growth)
    return base * rng.uniform(0.8, 1.2)


def _attrs(outcome: Outcome) -> dict[str, str]:
    attrs = {"reply": outcome.reply} if outcome.reply else {}
    if outcome.host:
        attrs["host"] = outcome.host
    if outcome.enhanced:
        attrs["enhanced"] = outcome.enhanced
    if outcome.route:
        attrs["route"] = outcome.route
    if outcome.remote_id:
        attrs["remote_id"] = outcome.remote_id
    return attrs


_FINAL = {
    OutcomeKind.DELIVERED: (MessageState.DELIVERED, EventType.MESSAGE_DELIVERED),
    OutcomeKind.BOUNCED: (MessageState.BOUNCED, EventType.MESSAGE_BOUNCED),
    OutcomeKind.FAILED: (MessageState.FAILED, EventType.MESSAGE_FAILED),
}


def settle(
    message: Claimed,
    outcome: Outcome,
    now: float,
    settings: DeliverySettings,
    rng: random.Random,
    mail_from: str = "",
) -> Settled:
    """Decide the message's next state from one try's outcome (sent from ``mail_from``)."""
    attrs = _attrs(outcome)
    next_at = None
    if outcome.kind in _FINAL:
        state, event = _FINAL[outcome.kind]
        if outcome.kind is OutcomeKind.BOUNCED:
            # RFC 3463: hard (the address is dead: suppressed) or soft (scored); the feedback
            # module records the effect in the same transaction as this outcome.
            verdict = classify(outcome.enhanced, outcome.reply)
            attrs["bounce"] = verdict.severity.value
            attrs["bounce_reason"] = verdict.reason
    elif outcome.held:
        # Not tried (the route has no capacity today): waiting never expires a message.
        state, event = MessageState.DEFERRED, EventType.MESSAGE_DEFERRED
        next_at = now + outcome.retry_after
        attrs["held"] = "yes"
        attrs["next_attempt_at"] = f"{next_at:.0f}"
    else:
        expires = message.created_at + settings.max_age_hours * 3600
        if now >= expires:
            state, event = MessageState.FAILED, EventType.MESSAGE_FAILED
            attrs["expired"] = f"still deferred after {settings.max_age_hours:g} h"
        else:
            state, event = MessageState.DEFERRED, EventType.MESSAGE_DEFERRED
            delay = max(retry_delay(message.attempts, settings, rng), outcome.retry_after)
            next_at = min(now + delay, expires)
            attrs["next_attempt_at"] = f"{next_at:.0f}"
    return Settled(
        message=message,
        state=state,
        event=event,
        reply=outcome.reply,
        host=outcome.host,
        route=outcome.route,
        next_at=next_at,
        attrs=attrs,
        captured=outcome.captured,
        mail_from=mail_from,
    )


CRASHED_THE_WORKER = "crashed the worker"


def crashed_worker(message: Claimed, deaths: int, mail_from: str = "") -> Settled:
    """A message whose worker died ``deaths`` times in a row with it under way (building or
    sending it): failed rather than tried again, and kept as it is (its row, recipient data
    and strikes) for someone to look at."""
    return Settled(
        message=message,
        state=MessageState.FAILED,
        event=EventType.MESSAGE_FAILED,
        reply=CRASHED_THE_WORKER,
        attrs={
            "reply": CRASHED_THE_WORKER,
            "shunted": f"its worker died {deaths} times with it under way; kept for inspection",
        },
        mail_from=mail_from,
        strikes=deaths,
    )
