"""The coordinator process: opens the store, serves the API, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from grpc_health.v1 import health_pb2

from agent.api.server import build_server
from agent.config import AgentSettings
from agent.store import meta
from agent.store.handle import Store

log = logging.getLogger("mailfleet.agent")

_GRACE_SECONDS = 5.0


async def serve(settings: AgentSettings) -> None:
    """Run until SIGTERM or SIGINT, then stop accepting calls, finish writes and exit."""
    store = Store(settings.db_path)
    store.open()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server, health_servicer = build_server(
        settings, store, await store.write(meta.agent_id), time.time()
    )
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("agent serving gRPC on %s", settings.grpc.listen)
    try:
        await stop.wait()
        log.info("stopping: finishing calls for up to %.0f s", _GRACE_SECONDS)
        await health_servicer.enter_graceful_shutdown()
        await server.stop(_GRACE_SECONDS)
    finally:
        store.close()
        log.info("agent stopped")
