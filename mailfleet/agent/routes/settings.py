"""Settings of routes, IP pools and destination limits (pydantic models, no I/O), and the
domain patterns they and the routing rules use."""

from __future__ import annotations

import datetime
import fnmatch
import ipaddress
import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

# A domain pattern: labels of a-z, 0-9, '-', '_' and '*' wildcards ("*.example.com", "*").
_PATTERN = re.compile(r"[a-z0-9*_-]+(\.[a-z0-9*_-]+)*\.?")
# Route names appear in rules, logs and RPCs: keep them plain.
ROUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def domain_patterns(values: list[str]) -> list[str]:
    """Lower-cased, validated domain patterns; raises ValueError naming the bad one."""
    patterns = []
    for value in values:
        pattern = value.strip().lower().rstrip(".")
        if not _PATTERN.fullmatch(pattern):
            raise ValueError(f"{value!r} is not a domain pattern (e.g. example.com, *.example.com)")
        patterns.append(pattern)
    return patterns


def domain_matches(domain: str, patterns: Sequence[str]) -> bool:
    """Whether ``domain`` matches one of ``patterns``: exact, or with '*' wildcards.

    ``*.example.com`` matches every subdomain of example.com but not example.com itself.
    """
    domain = domain.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(domain, pattern) for pattern in patterns)


class DestinationLimits(BaseModel):
    """Limits towards one destination (a recipient domain), per worker process."""

    # Concurrent SMTP connections to the destination.
    connections: int = Field(20, ge=1, le=2000)
    # Messages sent over one connection before it is closed and a new one opened.
    messages_per_connection: int = Field(100, ge=1, le=100_000)
    # Messages per minute to the destination; 0 means unlimited.
    per_minute: int = Field(0, ge=0)


class BackoffSettings(BaseModel):
    """How a destination that throttles us (421, 4.7.x "too many") is slowed and recovers."""

    # Each throttling reply halves the destination's connections and message rate, down to
    # 1/2**max_level of its limits...
    max_level: int = Field(5, ge=1, le=10)
    # ...and every this many seconds without one, a step of that is given back.
    recover_seconds: float = Field(60.0, gt=0)
    # The rate (per minute) a destination without a per_minute limit starts backing off from.
    unlimited_per_minute: int = Field(600, ge=1)
    # A domain suspended on an ISP's throttling reply (isp_defaults.toml) that answers so
    # again soon after it resumes is suspended twice as long, up to this.
    max_suspend_seconds: float = Field(4 * 3600.0, gt=0)


class IspLimits(BaseModel):
    """The operator's figures for one shipped ISP (``[limits.isps.gmail]``); unset ones keep
    the shipped figure (``mailfleet/agent/routes/isp_defaults.toml``)."""

    connections: int | None = Field(None, ge=1, le=2000)
    messages_per_connection: int | None = Field(None, ge=1, le=100_000)
    per_minute: int | None = Field(None, ge=0)
    # How long a domain is suspended on the ISP's first throttling reply.
    suspend_seconds: float | None = Field(None, gt=0)


class LimitsSettings(BaseModel):
    """Default destination limits plus overrides per recipient domain or per MX rollup."""

    default: DestinationLimits = DestinationLimits()
    domains: dict[str, DestinationLimits] = {}
    # Keyed by an MX host pattern ("*.google.com"): every domain whose MX matches shares these
    # limits and one set of connections, as the provider sees them as one sender.
    rollups: dict[str, DestinationLimits] = {}
    backoff: BackoffSettings = BackoffSettings()
    # The shipped per-ISP rollups, limits and throttling replies (after the operator's own
    # domains and rollups); false: only the operator's.
    isp_defaults: bool = True
    # The operator's figures for shipped ISPs, by their key (gmail, microsoft, yahoo, ...).
    isps: dict[str, IspLimits] = {}

    @field_validator("domains", "rollups")
    @classmethod
    def _check_keys(cls, value: dict[str, DestinationLimits]) -> dict[str, DestinationLimits]:
        keys = domain_patterns(list(value))
        return dict(zip(keys, value.values(), strict=True))

    @field_validator("isps")
    @classmethod
    def _check_isps(cls, value: dict[str, IspLimits]) -> dict[str, IspLimits]:
        # Imported here: the shipped table's module builds on the models of this one.
        from mailfleet.agent.routes.isps import shipped

        known = shipped()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(
                f"no shipped ISP named {', '.join(map(repr, unknown))}"
                f" (known: {', '.join(sorted(known))})"
            )
        return value

    def for_domain(self, domain: str) -> DestinationLimits:
        """The limits that apply to ``domain`` (lower-case)."""
        return self.domains.get(domain, self.default)


class SharedSettings(BaseModel):
    """What agents of one fleet share (``[shared]``)."""

    # redis://HOST:PORT/DB: direct MX destination limits (connections, messages per minute)
    # hold for every worker of every agent naming it; empty: each agent's own, per worker.
    redis_url: str = ""
    # While Redis cannot be reached, each worker keeps this share of its own limits.
    fallback_share: float = Field(0.25, gt=0, le=1)

    @field_validator("redis_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a redis:// (or rediss://, unix://) URL")
        return value


class CaptureRoute(BaseModel):
    """Keeps messages in the agent's capture mailbox; nothing leaves the machine."""

    type: Literal["capture"] = "capture"


class SmtpRelayRoute(BaseModel):
    """Hands every message to one SMTP relay (a smarthost or an ESP's SMTP endpoint)."""

    type: Literal["smtp"] = "smtp"
    host: str
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["none", "starttls", "implicit"] = "starttls"
    # Verify the relay's certificate (turn off only for a relay with a self-signed one).
    verify_tls: bool = True
    username: str = ""
    # A file (mode 0600, relative to data_dir) holding the password; never the password itself.
    password_file: str = ""
    helo: str = ""
    timeout_seconds: float = Field(60.0, gt=0)
    limits: DestinationLimits = DestinationLimits(connections=50, messages_per_connection=1000)


class MtaStsSettings(BaseModel):
    """MTA-STS (RFC 8461) for direct MX: recipient domains' published TLS policies."""

    enabled: bool = True
    # Extra trusted CA certificates (PEM) for policy hosts and MX hosts, besides the system's.
    ca_file: str = ""
    # The policy hosts' HTTPS port: 443 by the RFC; another only for a local test stand-in.
    port: int = Field(443, ge=1, le=65535)


class PoolAddress(BaseModel):
    """One source address of an IP pool."""

    address: str
    # The HELO name for connections from this address (its PTR name); empty: the route's.
    helo: str = ""
    # Share of the pool's traffic, relative to the other addresses (weighted round robin).
    weight: int = Field(1, ge=1, le=1000)
    # A plan of [ip_pools.plans] this address follows, counted in days from warmup_start.
    warmup: str = ""
    warmup_start: datetime.date | None = None

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value

    @model_validator(mode="after")
    def _check_warmup(self) -> PoolAddress:
        if self.warmup and self.warmup_start is None:
            raise ValueError(f"{self.address}: warmup needs warmup_start (its first day)")
        return self


class IpPool(BaseModel):
    """Source addresses a direct MX route sends from, by weight."""

    addresses: list[PoolAddress] = Field(min_length=1)
    # Limits per (source address, destination), per worker process.
    limits: DestinationLimits = DestinationLimits(connections=5)


class IpPoolsSettings(BaseModel):
    """Named IP pools and the warm-up plans their addresses follow."""

    # Messages per day per address for each day of a plan (day 1 first); after its last day
    # an address has no daily limit. E.g. new_ip = [50, 100, 250, 500, 1000, 2500, 5000].
    plans: dict[str, list[Annotated[int, Field(ge=0)]]] = {}
    pools: dict[str, IpPool] = {}

    @model_validator(mode="after")
    def _check_plans(self) -> IpPoolsSettings:
        for name, pool in self.pools.items():
            for entry in pool.addresses:
                if entry.warmup and entry.warmup not in self.plans:
                    raise ValueError(f"pools.{name}: no warm-up plan named {entry.warmup!r}")
        return self


class DirectMxRoute(BaseModel):
    """Delivers straight to each recipient domain's MX hosts."""

    type: Literal["mx"] = "mx"
    # DNS servers as HOST or HOST:PORT; empty means the system's resolvers.
    resolvers: list[str] = []
    port: int = Field(25, ge=1, le=65535)
    source_address: str = ""
    # Send from the addresses of this [ip_pools.pools] entry instead of source_address.
    pool: str = ""
    helo: str = ""
    # "opportunistic" uses STARTTLS when offered (without verifying, as MTAs do).
    tls: Literal["none", "opportunistic", "required"] = "opportunistic"
    # Recipient domains (patterns) whose MX must offer STARTTLS, or the mail waits.
    tls_required: list[str] = []
    mta_sts: MtaStsSettings = MtaStsSettings()
    timeout_seconds: float = Field(60.0, gt=0)

    @field_validator("tls_required")
    @classmethod
    def _check_tls_required(cls, value: list[str]) -> list[str]:
        return domain_patterns(value)


class SplitRoute(BaseModel):
    """Spreads messages over other routes by weight (e.g. ``{ses = 3, sendgrid = 1}``).

    A message keeps its share on every try (the choice is a hash of its id), so a retry does
    not hop between providers.
    """

    type: Literal["split"] = "split"
    routes: dict[str, int]

    @field_validator("routes")
    @classmethod
    def _check_weights(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("name at least one route")
        for name, weight in value.items():
            if weight < 0:
                raise ValueError(f"weight of {name!r} is negative")
        if not any(value.values()):
            raise ValueError("at least one weight must be above 0")
        return value


class EspSettings(BaseModel):
    """What every ESP route has: its API key file, endpoint, concurrency and retries."""

    # A file (mode 0600, relative to data_dir) holding the API key; never the key itself.
    api_key_file: str
    # The provider's API address; set only for a regional endpoint or a test stand-in.
    base_url: str = ""
    timeout_seconds: float = Field(30.0, gt=0)
    # Requests in flight at once, per worker process.
    connections: int = Field(8, ge=1, le=500)
    # Requests per minute, per worker process; 0 means as fast as the provider answers.
    per_minute: int = Field(0, ge=0)
    # A 5xx reply or a broken connection is tried again this many times, waiting
    # retry_backoff_seconds, then twice that, ...; after that the messages are deferred.
    retries: int = Field(2, ge=0, le=10)
    retry_backoff_seconds: float = Field(1.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value.rstrip("/")


class SendGridRoute(EspSettings):
    """SendGrid's v3 ``mail/send`` API (structured: it does not take raw MIME)."""

    type: Literal["sendgrid"] = "sendgrid"
    # The Signed Event Webhook's verification key (base64, as SendGrid shows it; public).
    # Events are accepted at POST /webhooks/<route name> only when it is set.
    webhook_public_key: str = ""


class MailgunRoute(EspSettings):
    """Mailgun's ``messages.mime`` API: the DKIM-signed message as it is."""

    type: Literal["mailgun"] = "mailgun"
    # The sending domain configured at Mailgun (part of the API path).
    domain: str
    # A file (0600) holding the HTTP webhook signing key; webhooks are accepted only with it.
    webhook_signing_key_file: str = ""


class SesRoute(EspSettings):
    """Amazon SES v2 ``SendEmail`` with raw content, signed with SigV4 (botocore)."""

    type: Literal["ses"] = "ses"
    region: str
    access_key_id: str
    # ``api_key_file`` holds the secret access key.
    configuration_set: str = ""
    # The SNS topic SES publishes this route's events to; its notifications are accepted at
    # POST /webhooks/<route name> (signatures checked) only when set.
    webhook_topic_arn: str = ""
    # Where SNS signing certificates may come from (empty: https://sns.<region>.amazonaws.com/)
    # and extra CAs to trust for them; other values only for a local test stand-in.
    webhook_cert_url_prefix: str = ""
    webhook_ca_file: str = ""


class PostmarkRoute(EspSettings):
    """Postmark's ``email`` and ``email/batch`` APIs (structured)."""

    type: Literal["postmark"] = "postmark"
    # "outbound" for transactional mail, "broadcast" (or another stream) for bulk.
    message_stream: str = "outbound"
    # Messages per /email/batch call (Postmark takes at most 500).
    batch_size: int = Field(500, ge=1, le=500)
    # A file (0600) holding "user:password" for the webhook URL's basic auth (Postmark signs
    # nothing); webhooks are accepted only with it.
    webhook_credentials_file: str = ""


EspRouteSettings = SendGridRoute | MailgunRoute | SesRoute | PostmarkRoute

RouteSettings = Annotated[
    CaptureRoute
    | SmtpRelayRoute
    | DirectMxRoute
    | SplitRoute
    | SendGridRoute
    | MailgunRoute
    | SesRoute
    | PostmarkRoute,
    Field(discriminator="type"),
]
