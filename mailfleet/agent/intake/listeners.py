"""Starting and stopping the intake's listeners from ``[intake] listeners``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from mailfleet.agent.errors import ConfigError, why_not_listening
from mailfleet.agent.intake.message import Choices
from mailfleet.agent.intake.session import Intake, IntakeSMTP
from mailfleet.agent.intake.settings import IntakeSettings, ListenerSettings
from mailfleet.agent.routes.settings import IpPoolsSettings, RouteSettings
from mailfleet.agent.routes.source_ips import routes_by_pool
from mailfleet.agent.store.handle import Store

log = logging.getLogger("mailfleet.agent.intake")

# aiosmtpd logs every command line at INFO, AUTH's base64 credentials included.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class _DeliveryHostname(Protocol):
    @property
    def hostname(self) -> str: ...


class IntakeInputs(Protocol):
    """The settings the listeners read; :class:`mailfleet.agent.config.AgentSettings` has them
    all."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def tls_key(self) -> Path: ...

    @property
    def tls_cert(self) -> Path: ...

    @property
    def intake(self) -> IntakeSettings: ...

    @property
    def delivery(self) -> _DeliveryHostname: ...

    @property
    def routes(self) -> Mapping[str, RouteSettings]: ...

    @property
    def ip_pools(self) -> IpPoolsSettings: ...


def tls_context(settings: IntakeInputs, listener: ListenerSettings) -> ssl.SSLContext:
    """A server context with the listener's certificate, or the agent's own."""
    if listener.cert_file:
        cert, key = settings.data_dir / listener.cert_file, settings.data_dir / listener.key_file
    else:
        cert, key = settings.tls_cert, settings.tls_key
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def _hostname(settings: IntakeInputs) -> str:
    return settings.intake.hostname or settings.delivery.hostname or socket.getfqdn()


def choices(settings: IntakeInputs) -> Choices:
    """The routes and IP pools that control headers may name."""
    senders = routes_by_pool(settings.routes)
    pools = {name: senders.get(name, ()) for name in settings.ip_pools.pools}
    return Choices(frozenset(settings.routes), pools)


class Listeners:
    """Every configured SMTP listener, sharing one :class:`Intake`.

    ``reload`` (SIGHUP) opens listeners that were added, closes those removed and reopens
    those whose settings changed; sessions on listeners that did not change go on.
    """

    def __init__(self, settings: IntakeInputs, store: Store) -> None:
        self._settings = settings
        self.intake = Intake(settings.intake, _hostname(settings), choices(settings), store)
        self._servers: dict[tuple[str, int], tuple[ListenerSettings, asyncio.Server]] = {}
        self._sessions: weakref.WeakSet[IntakeSMTP] = weakref.WeakSet()

    async def start(self) -> None:
        """Bind every listener; raises (naming the address) if one cannot be bound."""
        for listener in self._settings.intake.listeners:
            try:
                await self._open(listener)
            except OSError:
                await self.stop()
                raise

    async def _open(self, listener: ListenerSettings) -> None:
        ctx = tls_context(self._settings, listener) if listener.tls != "none" else None

        def session() -> IntakeSMTP:
            proto = IntakeSMTP(self.intake, listener, ctx)
            self._sessions.add(proto)
            return proto

        try:
            server = await asyncio.get_running_loop().create_server(
                session,
                listener.address,
                listener.port,
                ssl=ctx if listener.tls == "implicit" else None,
                reuse_address=True,
                backlog=1024,
            )
        except OSError as exc:
            where = f"{listener.address}:{listener.port}"
            raise OSError(f"intake cannot listen on {where}: {why_not_listening(exc)}") from None
        self._servers[listener.key] = (listener, server)
        log.info(
            "SMTP intake %s on %s:%d (tls=%s, auth %s)",
            listener.label,
            listener.address,
            listener.port,
            listener.tls,
            "required" if listener.auth_required else "optional",
        )

    def _close(self, key: tuple[str, int]) -> ListenerSettings:
        """Stop accepting on a listener and close its sessions (each finishes the message it
        is handing in first)."""
        listener, server = self._servers.pop(key)
        server.close()
        for proto in list(self._sessions):
            if proto.listener is listener:
                proto.retire()
        return listener

    async def check(self, settings: IntakeInputs) -> None:
        """Raise :class:`ConfigError` if ``settings`` name listeners that cannot work: a
        certificate that does not load, an address that cannot be bound."""
        loop = asyncio.get_running_loop()
        for listener in settings.intake.listeners:
            try:
                if listener.tls != "none":
                    tls_context(settings, listener)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"intake listener {listener.label}: cannot load its certificate: {exc}"
                ) from None
            if listener.key in self._servers:
                continue
            try:  # bound and let go at once: the real bind follows in reload
                probe = await loop.create_server(
                    asyncio.Protocol, listener.address, listener.port, reuse_address=True
                )
            except OSError as exc:
                where = f"{listener.address}:{listener.port}"
                raise ConfigError(
                    f"intake cannot listen on {where}: {why_not_listening(exc)}"
                ) from None
            probe.close()
            await probe.wait_closed()

    async def reload(self, settings: IntakeInputs) -> None:
        """Apply new intake settings (SIGHUP): new limits for new sessions, listeners opened,
        closed or reopened as the config now says."""
        self._settings = settings
        self.intake.reload(settings.intake, _hostname(settings), choices(settings))
        wanted = {listener.key: listener for listener in settings.intake.listeners}
        reopen: dict[tuple[str, int], ListenerSettings] = {}
        for key, (listener, _) in list(self._servers.items()):
            if wanted.get(key) != listener:
                self._close(key)
                if key in wanted:
                    reopen[key] = listener
                else:
                    log.info("SMTP intake %s closed", listener.label)
        for key, listener in wanted.items():
            if key in self._servers:
                continue
            try:
                await self._open(listener)
            except OSError as exc:
                log.error("reload: %s", exc)
                if key in reopen:  # back to how it listened before
                    with contextlib.suppress(OSError):
                        await self._open(reopen[key])

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop accepting, let messages being committed get their reply, close the rest."""
        for _, server in self._servers.values():
            server.close()
        self._servers.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self.intake.drain()
        for proto in list(self._sessions):
            proto.shut_down()
