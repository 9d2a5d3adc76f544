"""The route seam: ``deliver(batch) -> outcomes``, and the types that cross it.

Workers hand a route a batch of rendered, signed messages and get one :class:`Outcome` per
message back. A route never raises for a message's failure: it reports it as an outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from mailfleet.agent.errors import ConfigError


class RouteConfigError(ConfigError):
    """A route's settings cannot work (an unsafe password file, a malformed HELO name)."""


class OutcomeKind(Enum):
    """What happened to one message on one try."""

    DELIVERED = "delivered"  # the destination (or capture) accepted it: 2xx
    DEFERRED = "deferred"  # try again later: 4xx, timeouts, connection errors
    BOUNCED = "bounced"  # the destination refused it for good: 5xx
    FAILED = "failed"  # it could not be built or sent at all (bad template, no route)


@dataclass(frozen=True)
class Envelope:
    """One message ready to go: SMTP envelope plus the complete RFC 5322 bytes (CRLF)."""

    message_id: int
    mail_from: str
    rcpt_to: str
    data: bytes
    # The header has an address with a UTF-8 local part (RFC 6532), so the message needs
    # SMTPUTF8 even when the envelope's own addresses are ASCII (a UTF-8 From or Reply-To).
    utf8_headers: bool = False
    # Awaited by the route right before the message goes on the wire (its campaign's
    # throttle); None: nothing to wait for.
    gate: Callable[[], Awaitable[None]] | None = None

    async def ready(self) -> None:
        """Return when the message may be sent: call just before sending it."""
        if self.gate is not None:
            await self.gate()

    @property
    def domain(self) -> str:
        """The recipient's domain, lower-case (the unit of routing and throttling)."""
        return self.rcpt_to.rpartition("@")[2].lower()


@dataclass(frozen=True)
class Outcome:
    """The result of one try of one message."""

    message_id: int
    kind: OutcomeKind
    # The destination's reply, e.g. "250 2.0.0 Ok: queued as 4F2" or "550 5.1.1 No such user";
    # for failures without a reply, a short description ("connection refused by mx1:25").
    reply: str = ""
    # The host that answered (MX or relay host name), empty when none did.
    host: str = ""
    # RFC 3463 enhanced status code from the reply ("5.1.1"), empty when there was none.
    enhanced: str = ""
    # For the capture route: the message as it would have been sent.
    captured: bytes | None = None
    # The route never reached anyone who judged the message (connection refused, TLS or AUTH
    # failed, a provider's 5xx): nothing was accepted, so another route may safely try it.
    infrastructure: bool = False
    # The route that produced the outcome, set by the pipeline for events.
    route: str = ""
    # The provider's id for the accepted message (ESP routes).
    remote_id: str = ""
    # For a deferral: the earliest retry the destination asked for (e.g. HTTP Retry-After), s.
    retry_after: float = 0.0
    # Not tried at all: the route has no capacity left (an IP pool's warm-up quota for today)
    # until ``retry_after``; it does not count towards the message's expiry.
    held: bool = False


class Route(Protocol):
    """Delivers messages somewhere. Implementations keep their own connection pools."""

    name: str

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Try every envelope once; return exactly one outcome per envelope, in any order."""
        ...

    async def close(self) -> None:
        """Close pooled connections (QUIT politely where possible)."""
        ...
