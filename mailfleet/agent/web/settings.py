"""The ``[http]`` settings: the public HTTP server's listener, address and request budget."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from mailfleet.agent.validation import split_host_port


class HttpSettings(BaseModel):
    """The public HTTP endpoints: unsubscribe, tracking, webhooks, metrics and health."""

    listen: str = "127.0.0.1:8480"
    # The address recipients' mail clients reach this server at, e.g. https://mail.example.com
    # behind a TLS-terminating proxy; empty means http://LISTEN, which only suits testing.
    public_url: str = ""
    # Requests per minute one client address may make; more get 429.
    rate_limit_per_minute: int = Field(600, ge=1)
    # Take the client address from X-Forwarded-For: only behind a proxy that sets it.
    trust_forwarded_for: bool = False

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_host_port(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def base_url(self) -> str:
        """The URL links in messages start with."""
        return self.public_url or f"http://{self.listen}"
