"""The direct MX route: each recipient domain's own MX hosts, one pool per domain."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routes.fleet import FleetDestination, FleetLimits
from mailfleet.agent.routes.isps import rollups
from mailfleet.agent.routes.settings import (
    DestinationLimits,
    DirectMxRoute,
    LimitsSettings,
    PoolAddress,
    domain_matches,
)
from mailfleet.agent.routes.shaping import Backoff, destination
from mailfleet.agent.routes.smtp.connection_pool import CONNECT_ERRORS, DestinationPool
from mailfleet.agent.routes.smtp.mx import DestinationError, MxResolver
from mailfleet.agent.routes.smtp.replies import describe_error, failed
from mailfleet.agent.routes.smtp.session import (
    Session,
    SessionOptions,
    StartTlsFailed,
    TlsMode,
    check_helo,
    open_session,
)
from mailfleet.agent.routes.source_ips import SourcePool, seconds_until_tomorrow

if TYPE_CHECKING:
    from mailfleet.agent.routes.smtp.mta_sts import MtaSts

log = logging.getLogger("mailfleet.agent.routes")


# How long an MX address that failed is tried only after the others.
_DOWN_SECONDS = 60.0
# How often pools of domains no longer sent to are dropped, so memory follows current traffic.
_SWEEP_SECONDS = 60.0
# With fleet-wide limits, a connection idle this long is closed, freeing it for other agents.
_FLEET_IDLE_SECONDS = 2.0


class NoMxAnswered(ConnectionError):
    """No MX host of the domain could be reached; the last host's error is the cause."""


class DirectMx:
    """Resolves each recipient domain and delivers to its MX hosts in preference order.

    Domains in one batch are delivered concurrently, each through its own pool and limits,
    so a slow or dead destination delays only its own messages.
    """

    def __init__(
        self,
        name: str,
        settings: DirectMxRoute,
        limits: LimitsSettings,
        *,
        helo: str,
        resolver: MxResolver | None = None,
        rate_period: float = 60.0,
        idle_seconds: float = 30.0,
        sources: SourcePool | None = None,
        fleet: FleetLimits | None = None,
    ) -> None:
        self.name = name
        # The fleet-wide limits on Redis (None: this worker's own only). A connection left
        # idle holds one of the fleet's, so idle ones are closed sooner there.
        self._fleet = fleet
        if fleet is not None:
            idle_seconds = min(idle_seconds, _FLEET_IDLE_SECONDS)
        self._sources = sources  # the IP pool to send from, if any
        self._settings = settings
        self._limits = limits
        self._rollups = rollups(limits)
        self._helo = check_helo(settings.helo or helo)
        self._resolver = resolver or MxResolver(settings.resolvers, settings.timeout_seconds)
        sts = settings.mta_sts
        self._sts: MtaSts | None = None
        if sts.enabled:
            # Imported here: its HTTPS client (aiohttp) costs a worker without direct MX nothing.
            from mailfleet.agent.routes.smtp.mta_sts import MtaSts

            self._sts = MtaSts(self._resolver, port=sts.port, ca_file=sts.ca_file)
        self._rate_period = rate_period
        self._idle_seconds = idle_seconds
        self._pools: dict[str, DestinationPool] = {}
        # Outlive their pools: a quiet destination that throttled us stays slowed down.
        self._backoffs: dict[str, Backoff] = {}
        self._down: dict[str, float] = {}  # address -> until when it is tried last
        self._last_sweep = time.monotonic()

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Deliver every envelope; one outcome per envelope."""
        self._sweep()
        by_domain: defaultdict[str, list[Envelope]] = defaultdict(list)
        outcomes: list[Outcome] = []
        for envelope in batch:
            if "@" not in envelope.rcpt_to or not envelope.domain:
                outcomes.append(failed(envelope.message_id, f"no domain in {envelope.rcpt_to!r}"))
            else:
                by_domain[envelope.domain].append(envelope)
        if len(by_domain) == 1:  # the worker's usual batch: no task needed to run it
            [(domain, group)] = by_domain.items()
            return outcomes + await self._deliver_domain(domain, group)
        results = await asyncio.gather(
            *(self._deliver_domain(domain, group) for domain, group in by_domain.items())
        )
        for result in results:
            outcomes.extend(result)
        return outcomes

    async def _deliver_domain(self, domain: str, batch: list[Envelope]) -> list[Outcome]:
        try:
            # Looked up here as well as on connect so a null MX bounces without a connection.
            hosts = await self._resolver.hosts(domain)
        except DestinationError as exc:
            return [
                Outcome(e.message_id, exc.kind, reply=exc.reply, enhanced=exc.enhanced)
                for e in batch
            ]
        key, limits = destination(domain, [h.name for h in hosts], self._limits, self._rollups)
        if self._sources is None:
            return await self._pool(key, limits, domain, None).deliver(batch)
        # From an IP pool: each message gets a source address in turn; each (address,
        # destination) has its own connections and limits.
        chosen = self._sources.assign(len(batch), datetime.datetime.now(datetime.UTC))
        groups: dict[str, tuple[PoolAddress, list[Envelope]]] = {}
        outcomes: list[Outcome] = []
        wait = seconds_until_tomorrow(datetime.datetime.now(datetime.UTC))
        for envelope, entry in zip(batch, chosen, strict=True):
            if entry is None:
                outcomes.append(
                    Outcome(
                        envelope.message_id,
                        OutcomeKind.DEFERRED,
                        f"held: IP pool {self._sources.name} has used today's warm-up quota",
                        retry_after=wait,
                        held=True,
                    )
                )
            else:
                groups.setdefault(entry.address, (entry, []))[1].append(envelope)
        self._sources.save()
        limits = self._sources.pool.limits
        results = await asyncio.gather(
            *(
                self._pool(f"{key}@{address}", limits, domain, entry).deliver(group)
                for address, (entry, group) in groups.items()
            )
        )
        for result in results:
            outcomes.extend(result)
        return outcomes

    def _pool(
        self, key: str, limits: DestinationLimits, domain: str, source: PoolAddress | None
    ) -> DestinationPool:
        """The connections to one destination (from one source address)."""
        pool = self._pools.get(key)
        if pool is None:
            backoff = self._backoffs.get(key)
            if backoff is None:
                backoff = self._backoffs[key] = Backoff(self._limits.backoff)
            # A rollup's connections go to the MX of the domain that opened the pool: every
            # domain of the rollup is served by the same hosts.
            pool = self._pools[key] = DestinationPool(
                key,
                limits,
                lambda: self._connect(domain, source),
                rate_period=self._rate_period,
                idle_seconds=self._idle_seconds,
                backoff=backoff,
                fleet=FleetDestination(self._fleet, key) if self._fleet else None,
            )
        return pool

    async def _connect(self, domain: str, source: PoolAddress | None) -> Session:
        """A session with the first MX host (in preference order) that answers."""
        try:
            hosts = await self._resolver.hosts(domain)
        except DestinationError as exc:
            raise NoMxAnswered(exc.reply) from None
        tls, verify = self._tls_for(domain)
        policy = await self._sts.policy(domain) if self._sts else None
        if policy is not None and policy.mode != "none":
            allowed = [h for h in hosts if policy.allows(h.name)]
            if len(allowed) < len(hosts):
                log.info(
                    "MTA-STS (%s) of %s does not name MX %s",
                    policy.mode,
                    domain,
                    ", ".join(h.name for h in hosts if h not in allowed),
                )
            if policy.mode == "enforce":
                if not allowed:
                    raise NoMxAnswered(
                        f"451 4.7.5 MTA-STS policy of {domain} names none of its MX hosts"
                    )
                hosts, tls, verify = allowed, "required", True
        candidates = [(h.name, a) for h in hosts for a in await self._resolver.addresses(h.name)]
        # Addresses that failed lately go last (stable sort keeps MX order otherwise), so a
        # dead primary costs one timeout per minute rather than one per connection.
        now = time.monotonic()
        candidates.sort(key=lambda c: self._down.get(c[1], 0.0) > now)
        last: BaseException | None = None
        for name, address in candidates:
            try:
                session = await self._open(name, address, tls, verify, source)
            except CONNECT_ERRORS as exc:
                log.info("MX %s [%s]: %s", name, address, describe_error(exc))
                self._down[address] = time.monotonic() + _DOWN_SECONDS
                last = exc
            else:
                self._down.pop(address, None)
                return session
        reason = describe_error(last) if last else "no MX host has an address"
        raise NoMxAnswered(f"no MX host of {domain} answered: {reason}") from last

    def _tls_for(self, domain: str) -> tuple[TlsMode, bool]:
        """The TLS mode for ``domain`` before MTA-STS, and whether to verify the MX."""
        if domain_matches(domain, self._settings.tls_required):
            return "required", False
        return self._settings.tls, False

    async def _open(
        self, host: str, address: str, tls: TlsMode, verify: bool, source: PoolAddress | None
    ) -> Session:
        options = SessionOptions(
            address=address,
            port=self._settings.port,
            host=host,
            helo=check_helo(source.helo) if source and source.helo else self._helo,
            timeout=self._settings.timeout_seconds,
            tls=tls,
            # MTAs authenticate MX hosts only when a policy says so (here MTA-STS enforce).
            verify_tls=verify,
            source_address=source.address if source else self._settings.source_address,
            ca_file=self._settings.mta_sts.ca_file if verify else "",
        )
        try:
            return await open_session(options)
        except StartTlsFailed:
            if tls != "opportunistic":
                raise
            # Opportunistic TLS falls back to plain text, as other MTAs do.
            log.info("STARTTLS with %s [%s] failed; retrying without TLS", host, address)
            return await open_session(replace(options, tls="none"))

    def _sweep(self) -> None:
        """Forget quiet pools and expired down marks (at most once per ``_SWEEP_SECONDS``)."""
        now = time.monotonic()
        if now - self._last_sweep < _SWEEP_SECONDS:
            return
        self._last_sweep = now
        self._pools = {d: p for d, p in self._pools.items() if not p.quiet}
        self._backoffs = {d: b for d, b in self._backoffs.items() if b.level or d in self._pools}
        self._down = {a: until for a, until in self._down.items() if until > now}

    async def close(self) -> None:
        """Close every destination's pooled connections."""
        await asyncio.gather(*(pool.close() for pool in self._pools.values()))
        if self._fleet is not None:
            await self._fleet.close()
        if self._sts is not None:
            await self._sts.close()
