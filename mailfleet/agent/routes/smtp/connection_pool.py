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
from mailfleet.agent.routes.settings import DestinationLimits
from mailfleet.agent.routes.shaping import Backoff, Pacer, is_throttling
from mailfleet.agent.routes.smtp.replies import deferred, describe_error, session_failure
from mailfleet.agent.routes.smtp.session import Session, SessionLost

log = logging.getLogger("mailfleet.agent.routes")

Connect = Callable[[], Awaitable[Session]]

# What opening a session may raise, beyond aiosmtplib's own errors.
CONNECT_ERRORS = (aiosmtplib.SMTPException, OSError)


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
    ) -> None:
        self.name = name
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
        return self.backoff.connections(limit) if self.backoff else limit

    def _per_minute(self) -> int:
        limit = self._limits.per_minute
        return self.backoff.per_minute(limit) if self.backoff else limit

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
                try:
                    session = await self._connect()
                except CONNECT_ERRORS as exc:
                    # One line per failed lane would flood the log; deliver() sums them up.
                    log.debug("cannot connect to %s: %s", self.name, describe_error(exc))
                    errors.append(exc)
                    await self._retire(None)
                    return
                except BaseException:
                    # Cancelled while connecting: give the slot back, or the pool shrinks.
                    await asyncio.shield(self._retire(None))
                    raise
            try:
                while (
                    queue and session.usable and session.sent < self._limits.messages_per_connection
                ):
                    envelope = queue.popleft()
                    await self._rate.wait()
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

    async def _retire(self, session: Session | None) -> None:
        """Close a session (outside the lock) and free its slot."""
        if session is not None:
            await session.close()
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
