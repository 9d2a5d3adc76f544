"""The agent's one typed settings object: the TOML file, then ``MAILFLEET_*`` variables.

Environment variables win over the file and use ``__`` between levels, e.g.
``MAILFLEET_GRPC__LISTEN=0.0.0.0:8470``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from agent.feedback.settings import FeedbackSettings
from agent.intake.settings import IntakeSettings
from agent.ops.retention_config import RetentionSettings
from agent.routes.settings import (
    CaptureRoute,
    DestinationLimits,
    DirectMxRoute,
    IpPoolsSettings,
    LimitsSettings,
    RouteSettings,
    SmtpRelayRoute,
    SplitRoute,
)
from agent.routing.settings import RoutingRule, RoutingSettings

# The routes' settings live in their own module and are re-exported for the rest of the agent.
__all__ = [
    "CaptureRoute",
    "DestinationLimits",
    "DirectMxRoute",
    "IpPoolsSettings",
    "LimitsSettings",
    "RouteSettings",
    "RoutingRule",
    "RoutingSettings",
    "SmtpRelayRoute",
    "SplitRoute",
]


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message says where."""


def split_host_port(listen: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT`` for IPv6) and check the port's range."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{listen!r} is not HOST:PORT")
    return host.strip("[]"), int(port_text)


class GrpcSettings(BaseModel):
    """The gRPC API listener."""

    listen: str = "127.0.0.1:8470"
    max_receive_mib: int = Field(32, ge=1, le=1024)
    max_send_mib: int = Field(64, ge=1, le=1024)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_host_port(value)
        return value


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


class LogSettings(BaseModel):
    """Where and how the agent logs (stderr, so journald picks it up)."""

    level: str = "INFO"
    json_lines: bool = False


class AgentSettings(BaseSettings):
    """Everything the agent reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="MAILFLEET_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path
    grpc: GrpcSettings = GrpcSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()
    delivery: DeliverySettings = DeliverySettings()
    routes: dict[str, RouteSettings] = {"capture": CaptureRoute()}
    limits: LimitsSettings = LimitsSettings()
    intake: IntakeSettings = IntakeSettings()
    routing: RoutingSettings = RoutingSettings()
    ip_pools: IpPoolsSettings = IpPoolsSettings()
    retention: RetentionSettings = RetentionSettings()
    feedback: FeedbackSettings = FeedbackSettings()

    @property
    def db_path(self) -> Path:
        """The SQLite store."""
        return self.data_dir / "agent.db"

    @property
    def tls_key(self) -> Path:
        """The agent's TLS private key (0600)."""
        return self.data_dir / "tls" / "agent.key"

    @property
    def tls_cert(self) -> Path:
        """The agent's self-signed certificate."""
        return self.data_dir / "tls" / "agent.crt"

    @property
    def dkim_dir(self) -> Path:
        """DKIM private keys: ``<domain>/<selector>.<rsa|ed25519>.pem``, each 0600."""
        return self.data_dir / "dkim"

    @property
    def feedback_key_file(self) -> Path:
        """The key (0600) that signs unsubscribe, tracking, VERP and feedback-ID tokens."""
        return self.data_dir / "secrets" / "feedback.key"

    @property
    def admin_key_file(self) -> Path:
        """The first admin key, kept (0600) so ``pairing`` can print it again."""
        return self.data_dir / "secrets" / "admin.key"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment overrides them.
        return (env_settings, init_settings)


def load(path: Path) -> AgentSettings:
    """Load the agent's TOML file; relative paths in it are relative to the file."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if "data_dir" in data:
        data["data_dir"] = (path.parent / str(data["data_dir"])).resolve()
    try:
        return AgentSettings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


CONFIG_TEMPLATE = """\
# Mailfleet agent configuration.
# Every setting can also be given as an environment variable, which wins over this file:
# MAILFLEET_<SECTION>__<NAME>, e.g. MAILFLEET_GRPC__LISTEN=0.0.0.0:8470.

# Where the agent keeps its store, TLS key and secrets (mode 0700). Relative to this file.
data_dir = "{data_dir}"

[grpc]
# Address of the gRPC API (TLS only). Use 0.0.0.0:PORT to let desktops on other machines pair.
listen = "{listen}"
# Largest request and response, in MiB; bigger calls get RESOURCE_EXHAUSTED.
max_receive_mib = 32
max_send_mib = 64

[http]
# Unsubscribe links, tracking, provider webhooks, /metrics and /healthz (plain HTTP: put a
# TLS-terminating proxy in front and set public_url to the address recipients reach).
listen = "{http_listen}"
public_url = ""

[log]
# DEBUG, INFO, WARNING or ERROR. Secrets are never logged at any level.
level = "INFO"
# One JSON object per line, for log shippers.
json_lines = false

# The SMTP intake (README, "SMTP intake"): uncomment to let applications submit mail over SMTP
# with logins from `mailfleet-agent smtp-user add`.
# [intake]
# bounce_domain = ""              # mail for it is taken without AUTH, for the feedback loop
# [[intake.listeners]]
# name = "submission"             # in metrics and logs; default "ADDRESS:PORT"
# address = "0.0.0.0"
# port = 587
# tls = "starttls"                # starttls | implicit (465) | none (loopback only)
# auth_required = true
"""
