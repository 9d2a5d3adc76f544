"""Brute-force protection for AUTH, and the per-user message rate.

Pure bookkeeping with an injectable clock; the session asks before checking a password and
reports what came of it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Past this many tracked addresses or names, expired entries are swept out.
_SWEEP_AT = 10_000


class _Counter:
    """Failures per key within a sliding window; a key that reaches the limit is blocked."""

    def __init__(self, limit: int, window: float, cooldown: float) -> None:
        self._limit = limit
        self._window = window
        self._cooldown = cooldown
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def set_limits(self, limit: int, window: float, cooldown: float) -> None:
        self._limit, self._window, self._cooldown = limit, window, cooldown

    def blocked(self, key: str, now: float) -> bool:
        until = self._blocked_until.get(key)
        if until is None:
            return False
        if until > now:
            return True
        del self._blocked_until[key]
        return False

    def fail(self, key: str, now: float) -> None:
        times = self._failures.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) >= self._limit:
            self._blocked_until[key] = now + self._cooldown
            del self._failures[key]
        if len(self._failures) > _SWEEP_AT:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if t[-1] <= now - self._window]:
            del self._failures[key]
        for key in [k for k, u in self._blocked_until.items() if u <= now]:
            del self._blocked_until[key]


class AuthGuard:
    """Refuses AUTH from an address or for a user after too many recent failures.

    A blocked user is still let in from addresses it has logged in from before, so an attacker
    guessing one user's password from elsewhere does not lock that user out of its own apps.
    """

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_ip = _Counter(max_failures, window_seconds, cooldown_seconds)
        self._by_user = _Counter(max_failures, window_seconds, cooldown_seconds)
        self._known: dict[str, set[str]] = {}
        self._clock = clock

    def set_limits(self, max_failures: int, window_seconds: float, cooldown_seconds: float) -> None:
        """Use new limits from now on; failures counted so far and cool-downs under way stay."""
        for counter in (self._by_ip, self._by_user):
            counter.set_limits(max_failures, window_seconds, cooldown_seconds)

    def refused(self, ip: str, username: str) -> bool:
        """Whether this attempt is refused without looking at the password."""
        now = self._clock()
        if self._by_ip.blocked(ip, now):
            return True
        return self._by_user.blocked(username, now) and ip not in self._known.get(username, ())

    def failed(self, ip: str, username: str) -> None:
        """Count a wrong password (or unknown user)."""
        now = self._clock()
        self._by_ip.fail(ip, now)
        self._by_user.fail(username, now)

    def succeeded(self, ip: str, username: str) -> None:
        """Remember that ``username`` logs in from ``ip``."""
        known = self._known.setdefault(username, set())
        if len(known) < 100:  # a user with more addresses than this is not helped by memory
            known.add(ip)


class RateLimiter:
    """A token bucket per key: ``per_minute`` messages, in bursts of up to that many."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._clock = clock
        self.set_rate(per_minute)

    def set_rate(self, per_minute: int) -> None:
        """Use a new rate from now on; what each key has spent is kept."""
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)

    def take(self, key: str) -> bool:
        """Spend one token of ``key``'s bucket; False when it is empty (or always True at 0)."""
        if self._capacity == 0:
            return True
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - stamp) * self._rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True


class ConnectionCounter:
    """Open connections in all and per client address."""

    def __init__(self, max_total: int, max_per_ip: int) -> None:
        self._per_ip: dict[str, int] = {}
        self.total = 0
        self.set_limits(max_total, max_per_ip)

    def set_limits(self, max_total: int, max_per_ip: int) -> None:
        """Use new caps for the next connections; open ones are not closed."""
        self._max_total = max_total
        self._max_per_ip = max_per_ip

    def admit(self, ip: str) -> str | None:
        """Count a new connection, or return the reply that refuses it."""
        if self.total >= self._max_total:
            return "421 4.7.0 Too many connections; try again later"
        if self._per_ip.get(ip, 0) >= self._max_per_ip:
            return "421 4.7.0 Too many connections from your address; try again later"
        self.total += 1
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        return None

    def release(self, ip: str) -> None:
        """Forget a connection that :meth:`admit` counted."""
        self.total -= 1
        left = self._per_ip[ip] - 1
        if left:
            self._per_ip[ip] = left
        else:
            del self._per_ip[ip]
