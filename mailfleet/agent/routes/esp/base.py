"""The shape every ESP route shares: chunk a batch, prepare, request, map the reply."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Generic, TypeVar

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routes.esp.http import (
    HttpClient,
    HttpReply,
    Unreachable,
    rate_limited,
    unreachable,
)
from mailfleet.agent.routes.esp.structured import UnusableMessage
from mailfleet.agent.routes.settings import EspSettings

# The message's id travels with it as provider metadata, so webhooks can name it.
METADATA_KEY = "mailfleet_message_id"

Item = TypeVar("Item")


class EspRoute(Generic[Item]):
    """Delivers through one provider. Subclasses say how to build a request and read a reply.

    ``Item`` is what :meth:`prepare` makes of one envelope (a JSON object, or the envelope).
    """

    batch_size = 1  # messages per request

    def __init__(self, name: str, settings: EspSettings, default_url: str) -> None:
        self.name = name
        self.http = HttpClient(name, settings, default_url)

    def prepare(self, envelope: Envelope) -> Item:
        """What the request needs of one message; raises UnusableMessage if it cannot go."""
        raise NotImplementedError

    async def request(self, items: list[tuple[Envelope, Item]]) -> HttpReply:
        """Send one chunk; raises Unreachable after the retries."""
        raise NotImplementedError

    def outcomes(self, items: list[tuple[Envelope, Item]], reply: HttpReply) -> list[Outcome]:
        """One outcome per item from a reply that is neither 429 nor 5xx."""
        raise NotImplementedError

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Deliver every envelope once; one outcome per envelope."""
        outcomes: list[Outcome] = []
        items: list[tuple[Envelope, Item]] = []
        for envelope in batch:
            try:
                items.append((envelope, self.prepare(envelope)))
            except UnusableMessage as exc:
                outcomes.append(
                    Outcome(envelope.message_id, OutcomeKind.FAILED, f"cannot send: {exc}")
                )
        chunks = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        for result in await asyncio.gather(*(self._chunk(c) for c in chunks)):
            outcomes.extend(result)
        return outcomes

    async def _chunk(self, items: list[tuple[Envelope, Item]]) -> list[Outcome]:
        host = self.http.host
        if wait := self.http.paused_for():
            return [rate_limited(e.message_id, host, wait) for e, _ in items]
        for envelope, _ in items:
            await envelope.ready()
        try:
            reply = await self.request(items)
        except Unreachable as exc:
            return [unreachable(e.message_id, host, exc) for e, _ in items]
        if reply.status == 429:
            wait = self.http.pause(reply)
            return [rate_limited(e.message_id, host, wait) for e, _ in items]
        return self.outcomes(items, reply)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.http.close()
