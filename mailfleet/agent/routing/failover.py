"""Failover: a rule's second route, used once its first has failed for long enough.

Only infrastructure failures count (a refused connection, a failed TLS or AUTH, a provider's
5xx): nothing was accepted, so the failover route may send the same message without a
duplicate. A recipient's refusal, or any success, shows the route works and resets the clock.
While failed over, one batch in every ``PROBE_SECONDS`` still tries the first route, so
traffic returns to it once it recovers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace

from mailfleet.agent.routes.base import Envelope, Outcome, Route

PROBE_SECONDS = 30.0
# Routes (or route and destination pairs) whose failures are tracked at once, per worker.
_MAX_TRACKED = 50_000


class Health:
    """Since when each route (or route and destination) has failed with nothing but
    infrastructure errors."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failing_since: dict[Hashable, float] = {}
        self._probed_at: dict[Hashable, float] = {}

    def record(self, key: Hashable, outcomes: Sequence[Outcome]) -> None:
        """Note one delivery's outcomes."""
        if any(not o.infrastructure for o in outcomes):
            self._failing_since.pop(key, None)
            self._probed_at.pop(key, None)
        elif outcomes:
            if key not in self._failing_since and len(self._failing_since) >= _MAX_TRACKED:
                # Bounded memory: forget the oldest failure (dicts keep insertion order).
                oldest = next(iter(self._failing_since))
                del self._failing_since[oldest]
                self._probed_at.pop(oldest, None)
            self._failing_since.setdefault(key, self._clock())

    def failed_over(self, key: Hashable, after_seconds: float) -> bool:
        """Whether ``key`` has failed for at least ``after_seconds``."""
        since = self._failing_since.get(key)
        return since is not None and self._clock() - since >= after_seconds

    def probe_due(self, key: Hashable) -> bool:
        """Whether a failed-over route should be tried again now."""
        return self._clock() - self._probed_at.get(key, float("-inf")) >= PROBE_SECONDS

    def tried(self, key: Hashable) -> None:
        """Note that the route was just tried (the probe interval starts again)."""
        self._probed_at[key] = self._clock()


def _named(outcomes: Sequence[Outcome], route: Route) -> list[Outcome]:
    return [o if o.route else replace(o, route=route.name) for o in outcomes]


async def deliver_with_failover(
    batch: Sequence[Envelope],
    primary: Route,
    failover: Route | None,
    after_seconds: float,
    health: Health,
    key: Hashable,
) -> list[Outcome]:
    """Deliver through ``primary``; once it has failed for ``after_seconds``, through
    ``failover`` (which also takes at once what a probe of ``primary`` could not send)."""
    failed_over = failover is not None and health.failed_over(key, after_seconds)
    if failover is not None and failed_over and not health.probe_due(key):
        return _named(await failover.deliver(batch), failover)
    outcomes = _named(await primary.deliver(batch), primary)
    health.record(key, outcomes)
    if failover is None or not health.failed_over(key, after_seconds):
        return outcomes
    health.tried(key)
    retry = {o.message_id for o in outcomes if o.infrastructure}
    if not retry:
        return outcomes
    second = _named(await failover.deliver([e for e in batch if e.message_id in retry]), failover)
    return [o for o in outcomes if o.message_id not in retry] + second
