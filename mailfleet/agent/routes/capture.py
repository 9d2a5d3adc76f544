"""The capture route: nothing leaves the machine; the coordinator keeps the messages."""

from __future__ import annotations

from collections.abc import Sequence

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind


class Capture:
    """Accepts every message as delivered and hands its bytes back in the outcome."""

    def __init__(self, name: str = "capture") -> None:
        self.name = name

    async def deliver(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """One DELIVERED outcome per envelope, carrying the message as it would have gone."""
        outcomes = []
        for e in batch:
            await e.ready()  # a throttled campaign is captured at its rate, as it would be sent
            outcomes.append(
                Outcome(
                    message_id=e.message_id,
                    kind=OutcomeKind.DELIVERED,
                    reply="250 captured",
                    host="capture",
                    captured=e.data,
                )
            )
        return outcomes

    async def close(self) -> None:
        """Nothing to close."""
