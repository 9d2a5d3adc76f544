"""Traffic shaping: limits per destination, backing off when throttled, campaign throttles.

A destination is a recipient domain, or an MX rollup (every domain whose MX hosts match one
pattern, e.g. all Google-hosted domains) that shares one set of limits. When it answers with
a throttling reply, its connections and rate are halved; they come back a step at a time once
it has been quiet for a while.

A campaign's throttle (messages per minute) is a token bucket that every worker process
shares: a message takes its token just before it goes on the wire, so mail that waited in a
slow worker cannot leave together.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from multiprocessing.context import BaseContext

from mailfleet.agent.routes.base import Outcome, OutcomeKind
from mailfleet.agent.routes.isps import Rollup, rollups
from mailfleet.agent.routes.settings import (
    BackoffSettings,
    DestinationLimits,
    LimitsSettings,
    domain_matches,
)

# Words receivers use in 4xx replies that mean "you send too fast" rather than "try later".
_THROTTLE_TEXT = re.compile(
    r"rate|throttl|too many|too fast|slow down|exceeded|limit|try again later", re.IGNORECASE
)
# Replies within this long of the last step count as the same throttling episode.
_DEBOUNCE_SECONDS = 1.0

log = logging.getLogger("mailfleet.agent.routes")

# Campaigns throttled at once; beyond that the least recently claimed one gives up its bucket.
THROTTLE_SLOTS = 256
# A campaign's bucket holds this many seconds' worth of tokens (at least one): enough that a
# late wake-up does not lose the rate, small enough that no second sees much more than it.
_BURST_SECONDS = 0.05
# The shared lock is held for a few arithmetic operations; waiting longer than this means the
# worker that held it died inside (the pool then frees it), so the caller tries again later.
_LOCK_WAIT = 0.05
# Per slot: campaign id, tokens per second (0: free), tokens, time of the last refill.
_CELLS = 4

Gate = Callable[[], Awaitable[None]]


def destination(
    domain: str,
    mx_hosts: Sequence[str],
    limits: LimitsSettings,
    in_force: Sequence[Rollup] | None = None,
) -> tuple[str, DestinationLimits]:
    """The destination key and its limits: a domain override, else a matching MX rollup (the
    operator's, then a shipped ISP's; ``in_force`` is :func:`rollups` of ``limits``, made
    once by the caller), else the domain with the default limits."""
    if domain in limits.domains:
        return domain, limits.domains[domain]
    for rollup in rollups(limits) if in_force is None else in_force:
        if any(domain_matches(host, rollup.patterns) for host in mx_hosts):
            return rollup.key, rollup.limits
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


class CampaignThrottles:
    """Every throttled campaign's token bucket, in memory the coordinator shares with its
    worker processes (made before they are spawned, handed to each).

    The coordinator assigns each throttled campaign a slot and its rate; a worker takes a
    token from the slot right before a message of that campaign goes out. The bucket holds
    at most ``max(1, rate * 0.05)`` tokens, so in any one second at most ``rate`` messages
    plus that many leave the machine, whichever workers send them and however long they
    waited before.
    """

    def __init__(self, context: BaseContext) -> None:
        self._lock = context.Lock()
        self._cells = context.RawArray(ctypes.c_double, THROTTLE_SLOTS * _CELLS)
        # The coordinator's own books: campaign id -> slot, least recently assigned first.
        self._slots: OrderedDict[int, int] = OrderedDict()
        self._free = list(reversed(range(THROTTLE_SLOTS)))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        held = self._lock.acquire(timeout=_LOCK_WAIT)
        try:
            yield held
        finally:
            if held:
                # recover() may have freed it while this process was descheduled inside.
                with contextlib.suppress(ValueError):
                    self._lock.release()

    def assign(self, campaign_id: int, per_minute: int) -> int:
        """The slot of ``campaign_id`` (coordinator only), its rate set to ``per_minute``."""
        slot = self._slots.get(campaign_id)
        if slot is not None:
            self._slots.move_to_end(campaign_id)
        elif self._free:
            slot = self._slots[campaign_id] = self._free.pop()
        else:
            evicted, slot = self._slots.popitem(last=False)
            log.warning(
                "more than %d campaigns are throttled; campaign %d shares a throttle",
                THROTTLE_SLOTS,
                evicted,
            )
            self._slots[campaign_id] = slot
        base = slot * _CELLS
        with self._locked():
            if self._cells[base] != campaign_id:
                self._cells[base : base + _CELLS] = [campaign_id, 0.0, 1.0, time.monotonic()]
            self._cells[base + 1] = per_minute / 60.0
        return slot

    def release(self, campaign_id: int) -> None:
        """Free the slot of a campaign that has ended (coordinator only)."""
        slot = self._slots.pop(campaign_id, None)
        if slot is not None:
            with self._locked():
                self._cells[slot * _CELLS : (slot + 1) * _CELLS] = [-1.0, 0.0, 0.0, 0.0]
            self._free.append(slot)

    def take(self, slot: int, now: float) -> float:
        """Take one token from ``slot``: 0 when taken, else the seconds until one is due."""
        base = slot * _CELLS
        with self._locked() as held:
            if not held:
                return _LOCK_WAIT
            rate = self._cells[base + 1]
            if rate <= 0:
                return 0.0
            tokens = self._cells[base + 2] + (now - self._cells[base + 3]) * rate
            tokens = min(max(1.0, rate * _BURST_SECONDS), tokens)
            self._cells[base + 3] = now
            if tokens >= 1.0:
                self._cells[base + 2] = tokens - 1.0
                return 0.0
            self._cells[base + 2] = tokens
            return (1.0 - tokens) / rate

    async def wait(self, slot: int) -> None:
        """Return once a token of ``slot`` is taken: send at once."""
        while True:
            wait = self.take(slot, time.monotonic())
            if not wait:
                return
            await asyncio.sleep(wait)

    def gate(self, slot: int) -> Gate:
        """What a message of the campaign in ``slot`` awaits right before it is sent."""
        return functools.partial(self.wait, slot)

    def recover(self) -> None:
        """Free the lock if a worker died holding it (coordinator, after a worker's death)."""
        if self._lock.acquire(timeout=4 * _LOCK_WAIT):
            self._lock.release()
        else:
            log.warning("a worker died inside the campaign throttle; its lock is freed")
            with contextlib.suppress(ValueError):
                self._lock.release()
