"""The ``[intake]`` section: SMTP listeners and the limits every session obeys."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


class ListenerSettings(BaseModel):
    """One SMTP listener: where it listens, how it does TLS, whether AUTH is required."""

    # Its name in metrics and logs (e.g. "submission"); empty: "ADDRESS:PORT".
    name: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9._:-]*$")
    address: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    # starttls: plain connect, STARTTLS offered (587, 25, 2525); implicit: TLS from the first
    # byte (465); none: no TLS and so no AUTH, allowed on loopback addresses only.
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    # Unauthenticated clients may still hand in mail for the bounce domain when this is false.
    auth_required: bool = True
    # This listener's own certificate and key (PEM, relative to data_dir); default: the agent's.
    cert_file: str = ""
    key_file: str = ""
    # Clients from these networks submit without AUTH, as if logged in to trusted_tenant
    # (like Postfix's mynetworks); empty: nobody is trusted.
    trusted_networks: list[str] = []
    trusted_tenant: str = ""

    @field_validator("trusted_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # raises ValueError naming the bad entry
        return value

    @property
    def key(self) -> tuple[str, int]:
        """Where it listens: two listeners never share this."""
        return self.address, self.port

    @property
    def label(self) -> str:
        """Its name, or where it listens."""
        return self.name or f"{self.address}:{self.port}"

    @model_validator(mode="after")
    def _check(self) -> ListenerSettings:
        if self.tls == "none" and not _is_loopback(self.address):
            raise ValueError(f"tls = 'none' is for loopback addresses only, not {self.address}")
        if self.trusted_networks and not self.trusted_tenant:
            raise ValueError("trusted_networks needs trusted_tenant")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("cert_file and key_file go together")
        return self


class IntakeSettings(BaseModel):
    """SMTP submission and inbound mail for the bounce domain."""

    listeners: list[ListenerSettings] = []
    # Name in the greeting, EHLO reply and Received headers; empty: the delivery hostname.
    hostname: str = ""
    # Mail for this domain is accepted without AUTH (bounces and complaints) and stored for
    # the feedback loop, never relayed; empty: no unauthenticated acceptance at all.
    bounce_domain: str = ""
    # Largest message (advertised as SIZE; bigger ones get 552).
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=10_000)
    # Recipients per message; the ones beyond get 452 4.5.3 (RFC 5321 asks for at least 100).
    max_recipients: int = Field(100, ge=1, le=100_000)
    # Longest line of a command or of message data, without its CRLF (RFC 5321: 998).
    max_line_length: int = Field(998, ge=998, le=1_000_000)
    # Connections at once, in all and from one IP address.
    max_connections: int = Field(500, ge=1)
    max_connections_per_ip: int = Field(20, ge=1)
    # Messages one session may hand in before it must reconnect.
    max_messages_per_session: int = Field(1000, ge=1)
    # A session that says nothing for this long is closed.
    idle_timeout_seconds: float = Field(300.0, gt=0)
    # Messages per minute per SMTP user (451 4.7.1 beyond); 0: unlimited.
    messages_per_minute_per_user: int = Field(0, ge=0)
    # The greeting waits this long; a client that talks before it is refused (554).
    greet_pause_seconds: float = Field(0.0, ge=0, le=30)
    # Failed AUTHs from one IP or for one user within the window start a cool-down.
    auth_max_failures: int = Field(5, ge=1)
    auth_window_seconds: float = Field(600.0, gt=0)
    auth_cooldown_seconds: float = Field(600.0, gt=0)

    @field_validator("bounce_domain")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower().rstrip(".")

    @field_validator("listeners")
    @classmethod
    def _distinct(cls, value: list[ListenerSettings]) -> list[ListenerSettings]:
        seen: set[object] = set()
        for listener in value:
            for mark in (listener.key, listener.label):
                if mark in seen:
                    raise ValueError(f"two listeners on {listener.label}")
                seen.add(mark)
        return value
