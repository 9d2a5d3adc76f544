"""Build the configured routes from the agent's settings."""

from __future__ import annotations

import multiprocessing
import socket

from mailfleet.agent.routes.base import Route, RouteConfigError
from mailfleet.agent.routes.capture import Capture
from mailfleet.agent.routes.direct_mx import DirectMx
from mailfleet.agent.routes.fleet import FleetLimits
from mailfleet.agent.routes.settings import (
    CaptureRoute,
    DirectMxRoute,
    EspSettings,
    MailgunRoute,
    PostmarkRoute,
    SendGridRoute,
    SesRoute,
    SmtpRelayRoute,
    SplitRoute,
)
from mailfleet.agent.routes.smtp_relay import SmtpRelay, read_password
from mailfleet.agent.routes.source_ips import SourcePool
from mailfleet.agent.routing.settings import RoutingInputs
from mailfleet.agent.routing.split import Split
from mailfleet.agent.routing.table import RoutingState


def build_sources(settings: RoutingInputs, worker: int = 0) -> dict[str, SourcePool]:
    """The IP pool of each direct MX route that sends from one, as worker ``worker`` sees it
    (its share of every warm-up quota); raises :class:`RouteConfigError` for an unknown pool.

    Build them once per worker and hand them to every :func:`build_routes` of that worker, so
    both lanes count against the same quotas.
    """
    workers = settings.delivery.workers or multiprocessing.cpu_count()
    sources: dict[str, SourcePool] = {}
    for name, config in settings.routes.items():
        if isinstance(config, DirectMxRoute) and config.pool:
            pool = settings.ip_pools.pools.get(config.pool)
            if pool is None:
                raise RouteConfigError(f"route {name}: no IP pool named {config.pool!r}")
            state = settings.data_dir / "warmup" / f"{name}-{config.pool}-worker{worker}.json"
            sources[name] = SourcePool(
                config.pool, pool, settings.ip_pools, share=1 / workers, state_file=state
            )
    return sources


def build_routes(
    settings: RoutingInputs, sources: dict[str, SourcePool] | None = None
) -> dict[str, Route]:
    """One route per configured name; raises :class:`RouteConfigError` for unusable settings.

    Call it in each worker process: routes hold connection pools bound to that process's loop
    (they open nothing until the first ``deliver``).
    """
    if sources is None:
        sources = build_sources(settings)
    helo = settings.delivery.hostname or socket.getfqdn()
    shared = settings.shared
    # One link to Redis per worker, shared by its direct MX routes (it connects when used).
    fleet = FleetLimits(shared.redis_url, shared.fallback_share) if shared.redis_url else None
    routes: dict[str, Route] = {}
    for name, config in settings.routes.items():
        if isinstance(config, CaptureRoute):
            routes[name] = Capture(name)
        elif isinstance(config, SmtpRelayRoute):
            password = ""
            if config.password_file:
                try:
                    password = read_password(settings.data_dir / config.password_file)
                except RouteConfigError as exc:
                    raise RouteConfigError(f"route {name}: {exc}") from None
            elif config.username:
                raise RouteConfigError(f"route {name}: username given without password_file")
            routes[name] = SmtpRelay(name, config, helo=helo, password=password)
        elif isinstance(config, DirectMxRoute):
            routes[name] = DirectMx(
                name,
                config,
                settings.limits,
                helo=helo,
                sources=sources.get(name),
                fleet=fleet,
            )
        elif isinstance(config, EspSettings):
            routes[name] = _esp_route(name, config, _api_key(settings, name, config))
    # Splits last: they hand messages to the routes built above.
    for name, config in settings.routes.items():
        if isinstance(config, SplitRoute):
            missing = [part for part in config.routes if part not in routes]
            if missing:
                raise RouteConfigError(f"route {name}: cannot split over {', '.join(missing)}")
            routes[name] = Split(name, [(routes[p], w) for p, w in config.routes.items()])
    return routes


def _api_key(settings: RoutingInputs, name: str, config: EspSettings) -> str:
    try:
        key = read_password(settings.data_dir / config.api_key_file)
    except RouteConfigError as exc:
        raise RouteConfigError(f"route {name}: {exc}") from None
    if not key:
        raise RouteConfigError(f"route {name}: {config.api_key_file} is empty")
    return key


def _esp_route(name: str, config: EspSettings, key: str) -> Route:
    # Imported here: aiohttp and botocore add a second to the start of every worker, which
    # only agents with ESP routes need to pay.
    from mailfleet.agent.routes.esp.mailgun import Mailgun
    from mailfleet.agent.routes.esp.postmark import Postmark
    from mailfleet.agent.routes.esp.sendgrid import SendGrid
    from mailfleet.agent.routes.esp.ses import Ses

    if isinstance(config, SendGridRoute):
        return SendGrid(name, config, key)
    if isinstance(config, MailgunRoute):
        return Mailgun(name, config, key)
    if isinstance(config, SesRoute):
        return Ses(name, config, key)
    assert isinstance(config, PostmarkRoute)
    return Postmark(name, config, key)


def check_routes(settings: RoutingInputs) -> None:
    """Refuse, before any worker starts, settings that would make every worker fail.

    Workers build their own routes; a bad password file found only there would make them die
    and restart in a loop instead of stopping the agent with a clear message. The routing
    rules must name configured routes. (The coordinator checks the ESP routes' webhook secrets
    itself: see :func:`mailfleet.agent.feedback.webhooks.receiver.check_secrets`.)
    """
    build_routes(settings)
    RoutingState(settings)
