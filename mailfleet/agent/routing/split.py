"""The split route: spreads messages over other routes by weight."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from dataclasses import replace

from mailfleet.agent.routes.base import Envelope, Outcome, Route


class Split:
    """Sends each message through one of its routes, chosen by weight.

    The choice is a hash of the message id, so a message keeps its route on every try and the
    shares hold over any number of messages, not just on average.
    """

    def __init__(self, name: str, parts: Sequence[tuple[Route, int]]) -> None:
        self.name = name
        self._parts = [(route, weight) for route, weight in parts if weight > 0]
        self._total = sum(weight for _, weight in self._parts)

    def pick(self, message_id: int) -> Route:
        """The route that carries ``message_id``."""
        point = zlib.crc32(message_id.to_bytes(8, "little")) % self._total
        for route, weight in self._parts:
            if point < weight:
                return route
            point -= weight
        raise AssertionError("weights sum to the total")

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Deliver each envelope through its share's route; one outcome per envelope."""
        shares: dict[str, tuple[Route, list[Envelope]]] = {}
        for envelope in batch:
            route = self.pick(envelope.message_id)
            shares.setdefault(route.name, (route, []))[1].append(envelope)
        results = await asyncio.gather(*(r.deliver(group) for r, group in shares.values()))
        return [
            replace(outcome, route=outcome.route or route.name)
            for (route, _), result in zip(shares.values(), results, strict=True)
            for outcome in result
        ]

    async def close(self) -> None:
        """Its routes are closed by their owner."""
