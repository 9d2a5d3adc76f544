"""How the agent sends event webhooks (``[webhooks]``): batching, retries, what may be reached."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field, field_validator


class WebhookSettings(BaseModel):
    """Outbound event webhooks; their endpoints are managed over gRPC (``Webhooks``)."""

    # Up to this many events per POST, and at most this long between an event and its POST.
    batch_events: int = Field(100, ge=1, le=1000)
    batch_wait_ms: int = Field(1000, ge=0, le=60_000)
    # How long one POST may take, from connecting to the end of the answer.
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    # Retries back off exponentially (with jitter) from the first delay up to the largest;
    # an endpoint still failing after give_up_hours is disabled, with the reason shown.
    first_retry_seconds: float = Field(5.0, gt=0)
    max_retry_seconds: float = Field(1800.0, gt=0)
    give_up_hours: float = Field(24.0, gt=0)
    # Endpoints must be https:// unless this is set (for tests and endpoints on this machine).
    allow_http: bool = False
    # Networks endpoints may be in although they are loopback, private, link-local, CGNAT,
    # multicast or cloud metadata addresses, e.g. ["127.0.0.1/32"] for a receiver on this
    # machine. Empty: none of them.
    allow_networks: list[str] = []

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"{text!r} is not a network such as 127.0.0.1/32") from None
        return value
