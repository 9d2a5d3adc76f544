"""The standard health service: one status for the agent and the same for each of its services."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health_pb2, health_pb2_grpc


class ServingHealth:
    """What ``grpc.health.v1.Health/Check`` answers, overall (``""``) and per service name."""

    def __init__(self, service_names: Iterable[str], server: grpc.aio.Server) -> None:
        self._names = ["", *service_names]
        self._servicer = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def serving(self) -> None:
        """Answer SERVING for the agent and every service."""
        for name in self._names:
            await self._servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def drain(self) -> None:
        """Answer NOT_SERVING for the agent and every service from now on (the agent stops)."""
        await self._servicer.enter_graceful_shutdown()
