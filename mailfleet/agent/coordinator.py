"""The coordinator process: opens the store, serves the API, runs the scheduler and its
workers, reloads its settings on SIGHUP and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path

from mailfleet.agent.api.server import build_server
from mailfleet.agent.automations import clock as automation_clock
from mailfleet.agent.automations.runner import AutomationRunner
from mailfleet.agent.config import AgentSettings
from mailfleet.agent.delivery.scheduler import Scheduler
from mailfleet.agent.delivery.suspended import Suspended
from mailfleet.agent.dkim import keys as dkim_keys
from mailfleet.agent.errors import ConfigError, why_not_listening
from mailfleet.agent.eventhooks.deliverer import EventWebhooks
from mailfleet.agent.feedback import web as feedback_web
from mailfleet.agent.feedback.consumer import InboundConsumer
from mailfleet.agent.feedback.links import FeedbackLinks
from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.feedback.webhooks import receiver as webhooks
from mailfleet.agent.intake.listeners import Listeners
from mailfleet.agent.media import web as media_web
from mailfleet.agent.ops.reload import Reloader
from mailfleet.agent.retention.pruner import Retention
from mailfleet.agent.routing.table import RoutingState
from mailfleet.agent.signup import archive, preferences, web_version
from mailfleet.agent.signup import web as signup_web
from mailfleet.agent.store import meta, suspensions
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.lock import DataDirBusy, DataDirLock
from mailfleet.agent.telemetry import metrics
from mailfleet.agent.web.server import WebServer

log = logging.getLogger("mailfleet.agent")

_GRACE_SECONDS = 5.0
# In-flight deliveries get this long to finish after SIGTERM; what is left returns to the queue.
_DRAIN_SECONDS = 10.0
# Mail is taken once the workers have started, or after this long whatever they do.
_WORKERS_START_SECONDS = 30.0


async def _check_webhooks(settings: AgentSettings) -> None:
    webhooks.check_secrets(settings)


def _report_unreadable_keys(settings: AgentSettings) -> None:
    """One ERROR per DKIM folder or key the agent's user cannot read: that domain's mail
    would otherwise go out unsigned without a word."""
    for line in dkim_keys.unreadable_report(settings.dkim_dir):
        log.error("DKIM: %s", line)


async def serve(settings: AgentSettings, config_path: Path | None = None) -> None:
    """Run until SIGTERM or SIGINT, then stop accepting calls, drain deliveries and exit.

    SIGHUP reloads ``config_path`` (routes, limits, delivery settings, listeners). Refuses
    to start while another agent serves the same data directory.
    """
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirBusy as exc:
        raise ConfigError(str(exc)) from None
    try:
        await _serve(settings, config_path)
    finally:
        lock.release()


async def _serve(settings: AgentSettings, config_path: Path | None) -> None:
    _report_unreadable_keys(settings)
    store = Store(settings.db_path)
    store.open()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    routing = RoutingState(settings)
    suspended = Suspended(await store.read(lambda c: suspensions.in_force(c, time.time())))

    async def keys_changed() -> None:
        # New workers load every DKIM key; the old ones finish the messages they hold.
        scheduler.pool.replace(reloader.settings)

    agent_id = await store.write(meta.agent_id)
    try:
        server, health, audit = build_server(
            settings, store, agent_id, time.time(), routing, keys_changed, suspended
        )
    except ConfigError:
        store.close()
        raise
    scheduler = Scheduler(settings, store, routing, suspended)
    # Made here, before any worker starts: workers only read it.
    feedback_key = TokenKey.load_or_create(settings.feedback_key_file)
    web = WebServer(
        settings.http,
        store,
        [
            webhooks.mount(settings),
            metrics.mount(store, scheduler.stats),
            feedback_web.mount(feedback_key),
            signup_web.mount(feedback_key, settings.signup),
            preferences.mount(feedback_key),
            archive.mount(settings.delivery),
            media_web.mount(),
            web_version.mount(
                FeedbackLinks(feedback_key, settings.http.base_url, settings.intake.bounce_domain),
                settings.delivery,
            ),
        ],
    )
    try:
        await web.start()
    except OSError as exc:
        store.close()
        raise ConfigError(
            f"cannot listen for HTTP on {settings.http.listen}: {why_not_listening(exc)}"
        ) from None
    scheduling = asyncio.create_task(scheduler.run())
    scheduling.add_done_callback(lambda _: stop.set())  # a scheduler that dies stops the agent
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_WORKERS_START_SECONDS):
            await scheduler.serving()
    intake = Listeners(settings, store)
    try:
        await intake.start()
    except OSError as exc:
        await scheduler.stop(0)
        await web.stop()
        store.close()
        raise ConfigError(str(exc)) from None
    reloader = Reloader(settings, config_path)
    reloader.register("intake", intake.reload, check=intake.check)
    reloader.register("delivery", scheduler.reload, check=scheduler.check)
    retention = Retention(store, settings.retention)
    reloader.register("retention", retention.reload)
    reloader.add_check(_check_webhooks)
    pruning = asyncio.create_task(retention.run())
    reloads: set[asyncio.Task[bool]] = set()

    def on_hangup() -> None:
        task = asyncio.create_task(reloader.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    # Bounces, complaints and mailto unsubscribes the intake stored for the bounce domain.
    feedback = InboundConsumer(store, feedback_key, settings.feedback)
    consuming = asyncio.create_task(feedback.run())
    consuming.add_done_callback(lambda _: stop.set())
    # Automations move their contacts on beside delivery, by their own clock.
    automations = AutomationRunner(store, automation_clock.from_environment())
    automating = asyncio.create_task(automations.run())
    automating.add_done_callback(lambda _: stop.set())
    # Event webhooks read the events log after it is committed, beside delivery.
    hooks = EventWebhooks(store, settings.webhooks, agent_id)
    hooking = asyncio.create_task(hooks.run())
    hooking.add_done_callback(lambda _: stop.set())
    await server.start()
    await health.serving()
    log.info("agent serving gRPC on %s with %d workers", settings.grpc.listen, scheduler.pool.size)
    try:
        await stop.wait()
        log.info("stopping: finishing calls for up to %.0f s", _GRACE_SECONDS)
        store.give_up_waiting()  # on a full disk, waiting writes would hold the stop forever
        await health.drain()
        await intake.stop()
        await server.stop(_GRACE_SECONDS)
        await audit.close()
        await web.stop()
        retention.stop()
        feedback.stop()
        hooks.stop()
        automations.stop()
        await scheduler.stop(_DRAIN_SECONDS)
        await pruning
        await consuming
        await hooking
        await automating
        await scheduling  # re-raises whatever made a failed scheduler stop the agent
    finally:
        store.close()
        log.info("agent stopped")
