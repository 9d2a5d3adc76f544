"""The ``[delivery]`` settings: the scheduler, its workers, retries and the render caps; and
the settings the scheduler and its workers read from the rest of the agent's
(:class:`DeliveryInputs`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, Self

from pydantic import BaseModel, Field

from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.logs import LogSettings
from mailfleet.agent.routing.settings import RoutingInputs


class DeliverySettings(BaseModel):
    """The scheduler and its workers."""

    # Worker processes; 0 means one per CPU.
    workers: int = Field(0, ge=0, le=64)
    # The route of every message that no routing rule matches; a fresh agent captures.
    default_route: str = "capture"
    # Messages claimed per scheduler pass and handed out per worker batch.
    batch_size: int = Field(500, ge=1, le=10_000)
    # Messages leased to workers at once: after a crash, at most this many are tried twice.
    max_in_flight: int = Field(5000, ge=1, le=1_000_000)
    # A lease not answered by then returns its message to the queue.
    lease_seconds: float = Field(600.0, ge=5)
    retry_base_seconds: float = Field(60.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    # A message still deferred after this long fails.
    max_age_hours: float = Field(72.0, gt=0)
    # HELO name and Message-ID domain; empty means the machine's FQDN.
    hostname: str = ""
    # A message's rendering is stopped after this long or this size and the message fails.
    render_timeout_seconds: float = Field(2.0, gt=0)
    render_max_bytes: int = Field(10_000_000, ge=10_000)


class _LinkBase(Protocol):
    """What the workers read of ``[http]``: where links in messages point."""

    @property
    def base_url(self) -> str: ...


class _BounceDomain(Protocol):
    """What the workers read of ``[intake]``: the domain of VERP return paths."""

    @property
    def bounce_domain(self) -> str: ...


class DeliveryInputs(RoutingInputs, Protocol):
    """The settings the scheduler hands its workers, who build routes, signer and links from
    them. :class:`mailfleet.agent.config.AgentSettings` has them all; delivery names only what it
    reads. They cross to the worker processes pickled."""

    @property
    def delivery(self) -> DeliverySettings: ...

    @property
    def dkim_dir(self) -> Path: ...

    @property
    def feedback_key_file(self) -> Path: ...

    @property
    def feedback(self) -> FeedbackSettings: ...

    @property
    def http(self) -> _LinkBase: ...

    @property
    def intake(self) -> _BounceDomain: ...

    @property
    def log(self) -> LogSettings: ...

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied (pydantic's)."""
        ...
