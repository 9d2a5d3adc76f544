"""Fleet-wide destination limits on Redis (``[shared] redis_url``): the connections open to a
destination and the messages sent to it per minute, counted for every worker of every agent
that names the same Redis.

Each connection holds a lease in a sorted set per destination, taken by an atomic script
before it opens and given back when it closes; leases are refreshed every few seconds in one
round trip and expire on their own when a worker dies. The rate is a token bucket per
destination in Redis whose tokens a worker takes several at a time (a quarter of a second's
worth), so a busy destination costs one round trip per batch of messages, not per message.
Both use Redis's clock, so agents on different machines agree.

When Redis cannot be reached, each worker falls back to a share of its own limits
(``fallback_share``) and says so once, until Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid

import redis.asyncio
import redis.exceptions

log = logging.getLogger("mailfleet.agent.routes")

# A lease not refreshed for this long is taken back (its worker died).
_LEASE_MS = 30_000
_REFRESH_SECONDS = 10.0
# After a failed call, Redis is asked again no sooner than this.
_RETRY_SECONDS = 5.0
# Tokens taken at once: this many seconds' worth of the rate (at least one).
_BATCH_SECONDS = 0.25
# A bucket holds at most this many seconds' worth (at least one token), so an idle
# destination does not save up a burst.
_BURST_SECONDS = 1.0
# How long a call may take before Redis counts as gone.
_TIMEOUT = 1.0

# KEYS[1] the destination's leases; ARGV lease id, limit. 1 when granted.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""

# KEYS the lease sets, ARGV the lease ids (same order): their time set to now.
_REFRESH = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now, ARGV[i])
  redis.call('PEXPIRE', key, ARGV[#KEYS + 1])
end
return #KEYS
"""

# KEYS[1] the destination's bucket; ARGV wanted, tokens per second, capacity.
# Returns {granted, seconds until the next token (when none was)} as strings.
_TAKE = """
local t = redis.call('TIME')
local now = t[1] + t[2] / 1000000
local rate = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or cap
local at = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - at) * rate)
local got = math.min(tonumber(ARGV[1]), math.floor(tokens))
tokens = tokens - got
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
if got > 0 then return {tostring(got), '0'} end
return {'0', tostring((1 - tokens) / rate)}
"""

_ERRORS = (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)


class FleetLimits:
    """One worker process's link to the shared limits (built per worker, used on its loop)."""

    def __init__(self, url: str, fallback_share: float, prefix: str = "mailfleet:") -> None:
        self._url = url
        self.fallback_share = fallback_share
        self._prefix = prefix
        self._redis: redis.asyncio.Redis | None = None
        self._held: dict[str, str] = {}  # lease id -> its set's key
        self._refresher: asyncio.Task[None] | None = None
        self._down_until = 0.0
        self._said_down = False

    def _client(self) -> redis.asyncio.Redis:
        if self._redis is None:
            self._redis = redis.asyncio.Redis.from_url(
                self._url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
            )
        return self._redis

    @property
    def down(self) -> bool:
        """Whether the local fallback limits are in force (Redis failed lately)."""
        return time.monotonic() < self._down_until

    def _failed(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + _RETRY_SECONDS
        if not self._said_down:
            self._said_down = True
            log.warning(
                "shared limits: Redis cannot be reached (%s); each worker keeps %d%% of its own"
                " destination limits until it answers again",
                type(exc).__name__,
                round(self.fallback_share * 100),
            )

    def _answered(self) -> None:
        if self._said_down:
            self._said_down = False
            log.warning("shared limits: Redis answers again; fleet-wide limits are back")

    async def _call(
        self, script: str, keys: list[str], args: list[str | int | float]
    ) -> object | None:
        """Run ``script``; None when Redis failed (then the fallback holds for a while)."""
        if self.down:
            return None
        try:
            result: object = await asyncio.wait_for(
                self._client().eval(script, len(keys), *keys, *args), _TIMEOUT * 2
            )
        except _ERRORS as exc:
            self._failed(exc)
            return None
        self._answered()
        return result

    async def acquire(self, destination: str, limit: int) -> str | None:
        """A connection lease on ``destination``: its id, "" when the fallback holds (no
        lease needed), None when the fleet has ``limit`` open already."""
        lease = uuid.uuid4().hex
        key = f"{self._prefix}conn:{destination}"
        granted = await self._call(_ACQUIRE, [key], [lease, limit, _LEASE_MS])
        if granted is None:
            return ""
        if not granted:
            return None
        self._held[lease] = key
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh())
        return lease

    async def release(self, lease: str) -> None:
        """Give a lease back (a lease of a Redis that went away expires by itself)."""
        key = self._held.pop(lease, None)
        if key is None or self.down:
            return
        try:
            await asyncio.wait_for(self._client().zrem(key, lease), _TIMEOUT * 2)
        except _ERRORS as exc:
            self._failed(exc)

    async def _refresh(self) -> None:
        while self._held:
            await asyncio.sleep(_REFRESH_SECONDS)
            held = list(self._held.items())
            if held:
                await self._call(
                    _REFRESH, [k for _, k in held], [*(lease for lease, _ in held), _LEASE_MS]
                )

    async def take(self, destination: str, per_minute: int, wanted: int) -> tuple[int, float]:
        """Up to ``wanted`` tokens of ``destination``'s rate: (granted, seconds to wait when
        none was); (wanted, 0) when the fallback holds."""
        rate = per_minute / 60.0
        want = max(1, min(wanted, math.floor(rate * _BATCH_SECONDS)))
        capacity = max(1.0, rate * _BURST_SECONDS)
        key = f"{self._prefix}rate:{destination}"
        found = await self._call(_TAKE, [key], [want, rate, capacity])
        if not isinstance(found, list):
            return wanted, 0.0
        return int(found[0]), float(found[1])

    async def close(self) -> None:
        """Give back every lease and close the connection to Redis."""
        if self._refresher is not None:
            self._refresher.cancel()
        for lease in list(self._held):
            await self.release(lease)
        if self._redis is not None:
            with contextlib.suppress(*_ERRORS):
                await self._redis.aclose()
            self._redis = None


class FleetDestination:
    """One destination's share of the fleet's limits, as a connection pool uses them."""

    def __init__(self, fleet: FleetLimits, key: str) -> None:
        self.fleet = fleet
        self._key = key
        self._tokens = 0
        # One lane asks Redis at a time; the others then spend what it brought back.
        self._asking = asyncio.Lock()

    async def acquire(self, limit: int) -> str | None:
        """A lease for one more connection ("" under the fallback), or None: the fleet is at
        ``limit`` connections to this destination."""
        return await self.fleet.acquire(self._key, limit)

    async def release(self, lease: str) -> None:
        """Give back a lease from :meth:`acquire`."""
        if lease:
            await self.fleet.release(lease)

    async def wait(self, per_minute: int, waiting: int) -> None:
        """Return when one message may go out at the fleet's ``per_minute`` (0: unlimited);
        ``waiting`` messages are queued behind it, so that many tokens may be taken at once."""
        if not per_minute:
            return
        while not self._tokens:
            async with self._asking:
                if self._tokens:
                    break
                got, wait = await self.fleet.take(self._key, per_minute, max(1, waiting))
                self._tokens = got
                if not got:
                    await asyncio.sleep(max(wait, 0.01))
        self._tokens -= 1
