"""The SMTP relay route: every message goes to one smarthost (or an ESP's SMTP endpoint)."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path

from mailfleet.agent.routes.base import Envelope, Outcome, RouteConfigError
from mailfleet.agent.routes.settings import SmtpRelayRoute
from mailfleet.agent.routes.smtp.connection_pool import DestinationPool
from mailfleet.agent.routes.smtp.session import Session, SessionOptions, check_helo, open_session


def read_password(path: Path) -> str:
    """The relay password from ``path``, refusing a file that others could read."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise RouteConfigError(
                f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
            )
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise RouteConfigError(f"cannot read password file {path}: {exc.strerror}") from None


class SmtpRelay:
    """Hands every message to one relay over a pool of reused connections."""

    def __init__(
        self,
        name: str,
        settings: SmtpRelayRoute,
        *,
        helo: str,
        password: str = "",
        rate_period: float = 60.0,
        idle_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self._options = SessionOptions(
            address=settings.host,
            port=settings.port,
            host=settings.host,
            helo=check_helo(settings.helo or helo),
            timeout=settings.timeout_seconds,
            tls=settings.tls,
            verify_tls=settings.verify_tls,
            username=settings.username,
            password=password,
        )
        self._pool = DestinationPool(
            settings.host,
            settings.limits,
            self._connect,
            rate_period=rate_period,
            idle_seconds=idle_seconds,
        )

    async def _connect(self) -> Session:
        return await open_session(self._options)

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Send each envelope to the relay; one outcome per envelope."""
        return await self._pool.deliver(batch)

    async def close(self) -> None:
        """QUIT the pooled connections."""
        await self._pool.close()
