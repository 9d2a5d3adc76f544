"""A connection pool towards one destination, with its limits.

One pool per destination (the relay, or one recipient domain for direct MX) caps concurrent
connections, retires a connection after ``messages_per_connection`` messages, spaces messages
to honour ``per_minute``, reconnects after errors and closes connections left idle. Pools share
nothing, and no pool holds a lock across network I/O, so a slow destination only slows itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import aiosmtplib

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routes.fleet import FleetDestination
from mailfleet.agent.routes.settings import DestinationLimits
from mailfleet.agent.routes.shaping import Backoff, Pacer, is_throttling
from mailfleet.agent.routes.smtp.replies import deferred, describe_error, session_failure
from mailfleet.agent.routes.smtp.session import Session, SessionLost

log = logging.getLogger("mailfleet.agent.routes")

Connect = Callable[[], Awaitable[Session]]

# What opening a session may raise, beyond aiosmtplib's own errors.
CONNECT_ERRORS = (aiosmtplib.SMTPException, OSError)
# A lane that the fleet has no connection for asks again after this long.
_FLEET_WAIT = 0.2


class DestinationPool:
    """Connections to one destination; ``deliver`` spreads a batch over them."""

    def __init__(
        self,
        name: str,
        limits: DestinationLimits,
        connect: Connect,
        *,
        rate_period: float = 60.0,
        idle_seconds: float = 30.0,
        backoff: Backoff | None = None,
        fleet: FleetDestination | None = None,
    ) -> None:
        self.name = name
        # The fleet's share of the limits on Redis, when [shared] redis_url is set.
        self._fleet = fleet
        self._fleet_down = False
        self._leases: dict[int, str] = {}  # id(session) -> its fleet lease
        self._releasing: set[asyncio.Task[None]] = set()
        self._limits = limits
        self._connect = connect
        self._rate_period = rate_period
        # Slows the pool down while the destination throttles (None: never).
        self.backoff = backoff
        self._rate = Pacer(self._per_minute(), rate_period)
        self._idle_seconds = idle_seconds
        self._idle: list[Session] = []
        self._open = 0  # connections open or being opened, idle ones included
        self._users = 0  # deliver() calls in progress
        self._changed = asyncio.Condition()
        self._reaper: asyncio.Task[None] | None = None

    def _connections(self) -> int:
        limit = self._limits.connections
        if self.backoff:
            limit = self.backoff.connections(limit)
        if self._fleet_down:
            return max(1, int(limit * self._share()))
        return limit

    def _per_minute(self) -> int:
        limit = self._limits.per_minute
        if self.backoff:
            limit = self.backoff.per_minute(limit)
        if self._fleet_down and limit:
            return max(1, int(limit * self._share()))
        return limit

    def _share(self) -> float:
        return self._fleet.fleet.fallback_share if self._fleet else 1.0

    def _follow_fleet(self) -> None:
        """Re-pace the pool when Redis goes away or comes back (the fallback's share)."""
        if self._fleet is not None and self._fleet.fleet.down != self._fleet_down:
            self._fleet_down = not self._fleet_down
            self._rate.set_rate(self._per_minute())

    def _max_lanes(self) -> int:
        # Under a rate limit, more lanes than messages per second would only hold connections
        # open while they wait for their turn.
        lanes = self._connections()
        if per_minute := self._per_minute():
            lanes = min(lanes, math.ceil(per_minute / self._rate_period))
        return lanes

    def _observe(self, outcome: Outcome) -> None:
        """Feed a reply to the backoff; re-pace the pool when its level changes."""
        if self.backoff is None:
            return
        level = self.backoff.level
        if is_throttling(outcome):
            self.backoff.throttled()
        elif outcome.kind is OutcomeKind.DELIVERED:
            self.backoff.succeeded()
        if self.backoff.level != level:
            log.info(
                "%s: backoff level %d -> %d (%d connections, %s/min)",
                self.name,
                level,
                self.backoff.level,
                self._connections(),
                self._per_minute() or "unlimited",
            )
            self._rate.set_rate(self._per_minute())

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Send every envelope once over up to ``limits.connections`` connections."""
        queue = deque(batch)
        outcomes: list[Outcome] = []
        errors: list[BaseException] = []
        lanes = min(len(batch), self._max_lanes())
        self._users += 1
        try:
            if lanes == 1:  # one message, or one connection allowed: no task needed
                await self._lane(queue, outcomes, errors)
            else:
                async with asyncio.TaskGroup() as group:
                    for _ in range(lanes):
                        group.create_task(self._lane(queue, outcomes, errors))
        finally:
            self._users -= 1
        if queue:
            # Every lane gave up connecting: the destination is unreachable for now.
            reason = errors[-1] if errors else ConnectionError("no connection")
            log.warning(
                "%s unreachable, %d messages deferred: %s",
                self.name,
                len(queue),
                describe_error(reason),
            )
            outcomes.extend(session_failure(e.message_id, reason, self.name) for e in queue)
        return outcomes

    @property
    def quiet(self) -> bool:
        """Nothing in progress, nothing open, no rate slot pending: safe to drop the pool."""
        return not self._users and not self._open and self._rate.idle

    async def _lane(
        self, queue: deque[Envelope], outcomes: list[Outcome], errors: list[BaseException]
    ) -> None:
        """One connection's worth of work: take messages until the queue is empty."""
        retried: set[int] = set()
        while queue:
            session = await self._checkout()
            if session is None:
                if not queue:  # others emptied the queue while this lane waited for a slot
                    await self._retire(None)
                    return
                lease = await self._fleet_lease()
                if lease is None:  # the fleet has its connections open elsewhere
                    await self._retire(None)
                    await asyncio.sleep(_FLEET_WAIT)
                    continue  # (the loop ends if other lanes emptied the queue meanwhile)
                try:
                    session = await self._connect()
                except CONNECT_ERRORS as exc:
                    # One line per failed lane would flood the log; deliver() sums them up.
                    log.debug("cannot connect to %s: %s", self.name, describe_error(exc))
                    errors.append(exc)
                    await self._retire(None, lease)
                    return
                except BaseException:
                    # Cancelled while connecting: give the slot back, or the pool shrinks.
                    await asyncio.shield(self._retire(None, lease))
                    raise
                if lease:
                    self._leases[id(session)] = lease
            try:
                while (
                    queue and session.usable and session.sent < self._limits.messages_per_connection
                ):
                    envelope = queue.popleft()
                    await self._pace(len(queue) + 1)
                    await envelope.ready()
                    try:
                        outcome = await session.send(envelope)
                        outcomes.append(outcome)
                        self._observe(outcome)
                    except SessionLost as exc:
                        if envelope.message_id in retried:
                            # Lost before its first command again: nothing was sent.
                            outcomes.append(
                                deferred(
                                    envelope.message_id,
                                    str(exc),
                                    session.host,
                                    infrastructure=True,
                                )
                            )
                        else:
                            # Nothing was sent: try it once more on a fresh connection.
                            retried.add(envelope.message_id)
                            queue.appendleft(envelope)
            finally:
                await self._checkin(session)
            if self._open > self._connections():
                return  # backed off: fewer lanes now; the others take the rest of the queue

    async def _fleet_lease(self) -> str | None:
        """A fleet lease for a new connection ("" when none is needed), or None when the
        fleet is at its connections to this destination."""
        if self._fleet is None:
            return ""
        lease = await self._fleet.acquire(self._connections())
        self._follow_fleet()
        return lease

    async def _pace(self, waiting: int) -> None:
        """Wait for this pool's rate, then the fleet's (``waiting`` messages queued)."""
        await self._rate.wait()
        if self._fleet is not None:
            await self._fleet.wait(self._per_minute(), waiting)
            self._follow_fleet()

    def _release_soon(self, session: Session) -> None:
        """Give back a dropped session's fleet lease without waiting (under the lock)."""
        lease = self._leases.pop(id(session), "")
        if lease and self._fleet is not None:
            task = asyncio.create_task(self._fleet.release(lease))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def _checkout(self) -> Session | None:
        """An idle open session, or ``None`` with a connection slot reserved for a new one."""
        async with self._changed:
            while True:
                while self._idle:
                    session = self._idle.pop()  # the most recent: least likely to have timed out
                    if session.usable:
                        return session
                    session.drop()  # the server closed it, or said it would, while idle
                    self._open -= 1
                    self._release_soon(session)
                if self._open < self._connections():
                    self._open += 1
                    return None
                await self._changed.wait()

    async def _checkin(self, session: Session) -> None:
        """Keep a session for reuse, or close it once spent, broken or over the backoff's
        connection allowance."""
        if (
            session.usable
            and session.sent < self._limits.messages_per_connection
            and self._open <= self._connections()
        ):
            session.idle_since = time.monotonic()
            async with self._changed:
                self._idle.append(session)
                self._changed.notify()
            if self._reaper is None or self._reaper.done():
                self._reaper = asyncio.create_task(self._reap())
        else:
            await self._retire(session)

    async def _retire(self, session: Session | None, lease: str = "") -> None:
        """Close a session (outside the lock) and free its slot and fleet lease."""
        if session is not None:
            await session.close()
            lease = self._leases.pop(id(session), lease)
        if lease and self._fleet is not None:
            await self._fleet.release(lease)
        async with self._changed:
            self._open -= 1
            self._changed.notify()

    async def _reap(self) -> None:
        """Close sessions left idle longer than ``idle_seconds``; ends when none are idle."""
        while self._idle:
            await asyncio.sleep(self._idle_seconds / 4)
            cutoff = time.monotonic() - self._idle_seconds
            async with self._changed:
                expired = [s for s in self._idle if s.idle_since <= cutoff]
                self._idle = [s for s in self._idle if s.idle_since > cutoff]
            await asyncio.gather(*(self._retire(s) for s in expired))

    async def close(self) -> None:
        """Close every idle session; called when the route shuts down."""
        if self._reaper is not None:
            self._reaper.cancel()
        async with self._changed:
            idle, self._idle = self._idle, []
        await asyncio.gather(*(self._retire(s) for s in idle))
