"""Starting and stopping the intake's listeners from ``[intake] listeners``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import weakref

from agent.config import AgentSettings
from agent.intake.session import Intake, IntakeSMTP
from agent.intake.settings import ListenerSettings
from agent.store.handle import Store

log = logging.getLogger("mailfleet.agent.intake")

# aiosmtpd logs every command line at INFO, AUTH's base64 credentials included.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def tls_context(settings: AgentSettings, listener: ListenerSettings) -> ssl.SSLContext:
    """A server context with the listener's certificate, or the agent's own."""
    if listener.cert_file:
        cert, key = settings.data_dir / listener.cert_file, settings.data_dir / listener.key_file
    else:
        cert, key = settings.tls_cert, settings.tls_key
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


class Listeners:
    """Every configured SMTP listener, sharing one :class:`Intake`."""

    def __init__(self, settings: AgentSettings, store: Store) -> None:
        self._settings = settings
        hostname = settings.intake.hostname or settings.delivery.hostname or socket.getfqdn()
        self.intake = Intake(settings.intake, hostname, frozenset(settings.routes), store)
        self._servers: list[asyncio.Server] = []
        self._sessions: weakref.WeakSet[IntakeSMTP] = weakref.WeakSet()

    async def start(self) -> None:
        """Bind every listener; raises (naming the address) if one cannot be bound."""
        loop = asyncio.get_running_loop()
        for listener in self._settings.intake.listeners:
            ctx = tls_context(self._settings, listener) if listener.tls != "none" else None

            def session(
                listener: ListenerSettings = listener, ctx: ssl.SSLContext | None = ctx
            ) -> IntakeSMTP:
                proto = IntakeSMTP(self.intake, listener, ctx)
                self._sessions.add(proto)
                return proto

            try:
                server = await loop.create_server(
                    session,
                    listener.address,
                    listener.port,
                    ssl=ctx if listener.tls == "implicit" else None,
                    reuse_address=True,
                    backlog=1024,
                )
            except OSError as exc:
                await self.stop()
                raise OSError(
                    f"intake cannot listen on {listener.address}:{listener.port}: {exc.strerror}"
                ) from None
            self._servers.append(server)
            log.info(
                "SMTP intake on %s:%d (tls=%s, auth %s)",
                listener.address,
                listener.port,
                listener.tls,
                "required" if listener.auth_required else "optional",
            )

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop accepting, let messages being committed get their reply, close the rest."""
        for server in self._servers:
            server.close()
        self._servers.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self.intake.drain()
        for proto in list(self._sessions):
            proto.shut_down()
