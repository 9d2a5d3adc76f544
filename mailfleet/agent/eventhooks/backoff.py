"""When a failing endpoint is tried again: exponential back-off with jitter."""

from __future__ import annotations

from mailfleet.agent.eventhooks.settings import WebhookSettings


def retry_delay(settings: WebhookSettings, attempts: int, chance: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones (1 for the first), given a
    random ``chance`` in [0, 1): doubling from the first delay up to the largest, each taken
    between half and all of it, so endpoints that failed together do not retry together."""
    full = min(settings.max_retry_seconds, settings.first_retry_seconds * 2.0 ** (attempts - 1))
    return full * (0.5 + chance / 2)
