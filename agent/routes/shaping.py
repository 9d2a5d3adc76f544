"""Traffic shaping per destination: which limits apply, and backing off when throttled.

A destination is a recipient domain, or an MX rollup (every domain whose MX hosts match one
pattern, e.g. all Google-hosted domains) that shares one set of limits. When it answers with
a throttling reply, its connections and rate are halved; they come back a step at a time once
it has been quiet for a while.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence

from agent.routes.base import Outcome, OutcomeKind
from agent.routes.settings import BackoffSettings, DestinationLimits, LimitsSettings, domain_matches

# Words receivers use in 4xx replies that mean "you send too fast" rather than "try later".
_THROTTLE_TEXT = re.compile(
    r"rate|throttl|too many|too fast|slow down|exceeded|limit|try again later", re.IGNORECASE
)
# Replies within this long of the last step count as the same throttling episode.
_DEBOUNCE_SECONDS = 1.0


def destination(
    domain: str, mx_hosts: Sequence[str], limits: LimitsSettings
) -> tuple[str, DestinationLimits]:
    """The destination key and its limits: a domain override, else a matching MX rollup,
    else the domain with the default limits."""
    if domain in limits.domains:
        return domain, limits.domains[domain]
    for pattern, rollup in limits.rollups.items():
        if any(domain_matches(host, [pattern]) for host in mx_hosts):
            return f"rollup:{pattern}", rollup
    return domain, limits.default


def is_throttling(outcome: Outcome) -> bool:
    """Whether a reply says the destination wants us to slow down.

    421 always does (RFC 5321: service not available, closing); other 4xx do when their
    enhanced code is 4.7.x (policy) or their text speaks of rates and limits.
    """
    if outcome.kind is not OutcomeKind.DEFERRED or outcome.reply[:1] != "4":
        return False
    if outcome.reply.startswith("421"):
        return True
    return outcome.enhanced.startswith("4.7.") or bool(_THROTTLE_TEXT.search(outcome.reply))


class Backoff:
    """The backoff level of one destination: 0 is full speed, each level halves it."""

    def __init__(
        self, settings: BackoffSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.level = 0
        self._changed_at = clock()

    def throttled(self) -> None:
        """A throttling reply arrived: one level slower (once per episode)."""
        now = self._clock()
        if self.level and now - self._changed_at < _DEBOUNCE_SECONDS:
            return
        self.level = min(self._settings.max_level, self.level + 1)
        self._changed_at = now

    def succeeded(self) -> None:
        """A message went through: one level faster if the last change is old enough."""
        now = self._clock()
        if self.level and now - self._changed_at >= self._settings.recover_seconds:
            self.level -= 1
            self._changed_at = now

    def connections(self, limit: int) -> int:
        """Connections allowed now out of ``limit``."""
        return max(1, limit >> self.level)

    def per_minute(self, limit: int) -> int:
        """Messages per minute allowed now (0: unlimited) out of ``limit``."""
        if not self.level:
            return limit
        base = limit or self._settings.unlimited_per_minute
        return max(1, base >> self.level)


class Pacer:
    """At most ``rate`` messages per ``period`` seconds, evenly spaced (0 means unlimited).

    Spacing rather than bursting is kinder to receivers, and a reservation is taken without a
    lock, so waiting callers never block each other's network I/O.
    """

    def __init__(self, rate: int, period: float = 60.0) -> None:
        self._period = period
        self._interval = period / rate if rate else 0.0
        self._next = 0.0

    def set_rate(self, rate: int) -> None:
        """Change the rate from the next reservation on (0 means unlimited)."""
        self._interval = self._period / rate if rate else 0.0

    @property
    def idle(self) -> bool:
        """Whether forgetting this limiter now could not let a message out early."""
        return self._next <= time.monotonic()

    async def wait(self) -> None:
        """Return when the caller may send its next message."""
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)
