"""The agent's one typed settings object: the TOML file, then ``MAILFLEET_*`` variables.

Environment variables win over the file and use ``__`` between levels, e.g.
``MAILFLEET_GRPC__LISTEN=0.0.0.0:8470``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from mailfleet.agent.api.settings import GrpcSettings
from mailfleet.agent.delivery.settings import DeliverySettings
from mailfleet.agent.errors import ConfigError
from mailfleet.agent.eventhooks.settings import WebhookSettings
from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.intake.settings import IntakeSettings
from mailfleet.agent.logs import LogSettings
from mailfleet.agent.retention.settings import RetentionSettings
from mailfleet.agent.routes.settings import (
    CaptureRoute,
    IpPoolsSettings,
    LimitsSettings,
    RouteSettings,
    SharedSettings,
)
from mailfleet.agent.routing.settings import RoutingSettings
from mailfleet.agent.signup.settings import SignupSettings
from mailfleet.agent.web.settings import HttpSettings


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
    shared: SharedSettings = SharedSettings()
    intake: IntakeSettings = IntakeSettings()
    routing: RoutingSettings = RoutingSettings()
    ip_pools: IpPoolsSettings = IpPoolsSettings()
    retention: RetentionSettings = RetentionSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    webhooks: WebhookSettings = WebhookSettings()
    signup: SignupSettings = SignupSettings()

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

# The SMTP intake (docs/smtp-intake.md): uncomment to let applications submit mail over SMTP
# with logins from `mailfleet-agent smtp-user add`.
# [intake]
# bounce_domain = ""              # mail for it is taken without AUTH, for the feedback loop
# [[intake.listeners]]
# name = "submission"             # in metrics and logs; default "ADDRESS:PORT"
# address = "0.0.0.0"
# port = 587
# tls = "starttls"                # starttls | implicit (465) | none (loopback only)
# auth_required = true

# Event webhooks (docs/automation.md#event-webhooks): endpoints are managed over gRPC; these
# say how they are reached. Internal addresses are refused unless their network is named.
# [webhooks]
# allow_networks = []             # e.g. ["10.0.0.0/8"] for receivers on your own network
# batch_events = 100
# give_up_hours = 24
"""
