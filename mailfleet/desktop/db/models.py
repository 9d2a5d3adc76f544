"""SQLAlchemy models for the desktop's data: workspaces and everything they own.

Every row except a workspace belongs to exactly one workspace, and every query filters on it, so
one database can hold several tenants whose data never mixes.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.types import UTCDateTime, utcnow

# Stable constraint names, so Alembic migrations name things the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; carries the shared metadata."""

    metadata = MetaData(naming_convention=NAMING)


class ContactStatus(enum.StrEnum):
    """Whether a contact may be mailed, and if not, why."""

    SUBSCRIBED = "subscribed"
    # Signed up through a form; subscribed once the confirmation link is confirmed.
    UNCONFIRMED = "unconfirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class FieldType(enum.StrEnum):
    """The type of a custom field's values."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"


class SuppressionReason(enum.StrEnum):
    """Why an address is on the suppression list."""

    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    MANUAL = "manual"
    ERASED = "erased"


class EngagementKind(enum.StrEnum):
    """What a contact did with a campaign (fed by the campaign sync)."""

    OPENED = "opened"
    CLICKED = "clicked"


def _in(values: type[enum.StrEnum]) -> str:
    return "(" + ", ".join(f"'{v.value}'" for v in values) + ")"


def _key_of_email(context: Any) -> str:
    """Column default: the mailbox key of the row's ``email``."""
    return mailbox_key(context.get_current_parameters()["email"])


def _key_of_email_or_none(context: Any) -> str | None:
    email = context.get_current_parameters().get("email")
    return None if email is None else mailbox_key(email)


# How long a finished campaign's per-recipient details are kept unless the workspace says.
DEFAULT_RETENTION_DAYS = 90


def new_salt() -> str:
    """A random per-workspace salt for hashing erased addresses."""
    return secrets.token_hex(16)


class Workspace(Base):
    """A tenant: its contacts, lists, fields and suppression are its own."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Salt for suppression hashes: the same address hashes differently in each workspace.
    hash_salt: Mapped[str] = mapped_column(String(64), default=new_salt)
    # Finished campaigns keep their per-recipient rows this long after their last event; then
    # ``services.retention`` folds them into ``campaign_recipient_totals``.
    recipient_retention_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_RETENTION_DAYS, server_default=str(DEFAULT_RETENTION_DAYS)
    )
    # host:port of the SpamAssassin daemon the pre-send checks ask for a spam score; "" is none.
    spamd_address: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # The S3-compatible bucket the media library's images are published in ("" bucket: on each
    # sending agent instead); its keys are in the OS keyring (services.media_storage).
    media_s3_endpoint: Mapped[str] = mapped_column(String(500), default="", server_default="")
    media_s3_bucket: Mapped[str] = mapped_column(String(255), default="", server_default="")
    media_s3_region: Mapped[str] = mapped_column(String(64), default="", server_default="")
    media_s3_public_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # The look of the agents' unsubscribe and preference pages (services.workspace_branding):
    # "" is the agents' default; brand_revision counts saves, so an agent that is behind shows.
    brand_logo_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    brand_accent_color: Mapped[str] = mapped_column(String(7), default="", server_default="")
    brand_background_color: Mapped[str] = mapped_column(String(7), default="", server_default="")
    brand_text_color: Mapped[str] = mapped_column(String(7), default="", server_default="")
    brand_language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    brand_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FieldDefinition(Base):
    """A typed custom field defined for one workspace; values live in ``Contact.fields``."""

    __tablename__ = "field_definitions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        CheckConstraint(f"type IN {_in(FieldType)}", name="type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contact(Base):
    """One address in one workspace.

    ``email`` is the address as first written (domain lower-cased), used for display and
    sending; ``email_key`` (``mailfleet.desktop.db.mailbox``) is what makes a contact unique, so
    case variants and IDNA spellings of one mailbox are one contact. Custom field values are kept
    as one JSON object keyed by field key: one row per contact keeps a million-row import to
    one insert per contact, and SQLAlchemy's JSON accessors compile on SQLite and PostgreSQL
    alike.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "email_key"),
        Index(None, "workspace_id", "status"),
        CheckConstraint(f"status IN {_in(ContactStatus)}", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), default=_key_of_email)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=ContactStatus.SUBSCRIBED.value)
    consent_source: Mapped[str | None] = mapped_column(String(200))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailingList(Base):
    """A named list of contacts in one workspace."""

    __tablename__ = "lists"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ListMembership(Base):
    """A contact's membership of a list (many-to-many)."""

    __tablename__ = "list_members"
    __table_args__ = (Index(None, "list_id", "contact_id"),)

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suppression(Base):
    """An address that must never be mailed from this workspace.

    ``email_hash`` is always set and is what lookups use; ``email`` (and its ``email_key``,
    which matches every spelling of the mailbox) is cleared when the contact is erased, so the
    entry still blocks the address without holding it.
    """

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "email_hash"),
        Index(None, "workspace_id", "email_key"),
        CheckConstraint(f"reason IN {_in(SuppressionReason)}", name="reason"),
        # Ids never come back after a delete: the agents' push cursor depends on it.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320), default=_key_of_email_or_none)
    email_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionRemoval(Base):
    """An address taken off the suppression list, for the agents' push (``removal_cursor``).

    Rows are kept (an agent paired later, or paired again, replays them from its own cursor);
    erasing a contact deletes the rows of its address, as they hold it in clear.
    """

    __tablename__ = "suppression_removals"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Segment(Base):
    """A saved segment: its rules are data (JSON), compiled to SQL expressions when used."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EngagementEvent(Base):
    """A contact opened or clicked a campaign; written by the campaign event sync."""

    __tablename__ = "engagement_events"
    __table_args__ = (
        Index(None, "contact_id", "kind", "occurred_at"),
        Index(None, "campaign_id"),  # retention deletes a campaign's events in batches
        CheckConstraint(f"kind IN {_in(EngagementKind)}", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignState(enum.StrEnum):
    """Where a desktop campaign is: saved, uploading to its agents, sending, or done."""

    DRAFT = "draft"
    UPLOADING = "uploading"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    # Cancel was asked; some agent has not acknowledged it yet (it is told when it is back).
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class PartState(enum.StrEnum):
    """One agent's share of a campaign."""

    PENDING = "pending"  # recipients assigned, nothing confirmed on the agent yet
    UPLOADING = "uploading"
    STARTED = "started"
    COMPLETED = "completed"
    # Its unsent recipients went to other agents; the agent's campaign must be cancelled.
    MOVED = "moved"
    CANCELLED = "cancelled"
    # A command asked of the agent that it has not acknowledged yet (it is told when reached).
    CANCELLING = "cancelling"
    PAUSING = "pausing"
    RESUMING = "resuming"
    PAUSED = "paused"  # the agent acknowledged the pause


class RecipientStatus(enum.StrEnum):
    """What the desktop last heard about one recipient of a campaign."""

    PENDING = "pending"  # assigned to a part, not yet confirmed by the agent
    QUEUED = "queued"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    CAPTURED = "captured"  # kept in the agent's capture mailbox: it never left that machine
    BOUNCED = "bounced"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # the agent refused the address at upload
    MOVED = "moved"  # handed to another agent's part
    # Its outcome was in events the agent pruned before the desktop read them.
    UNKNOWN = "unknown"


class Agent(Base):
    """A paired sending agent. Its API key lives in the OS keyring under ``key_ref``."""

    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        UniqueConstraint("workspace_id", "host", "port"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    # Lower-case hex SHA-256 of the agent's certificate; a different certificate is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    key_ref: Mapped[str] = mapped_column(String(100))
    # Set for the agent the desktop started itself on 127.0.0.1 (its data directory).
    local_dir: Mapped[str | None] = mapped_column(String(1000))
    # The last event seq applied to this database, advanced in the same transaction.
    event_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    # The last suppression entry and the last removal pushed to this agent.
    suppression_cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    removal_cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The last signup change applied (mailfleet.desktop.services.signups).
    signup_cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The last entry of the agent's audit log copied into audit_entries.
    audit_cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The workspace's brand_revision this agent accepted (mailfleet.desktop.agents.branding_push).
    brand_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Person(Base):
    """A teammate in the workspace: a role, and agent keys of their own (``PersonAgentKey``).

    ``joined_at`` stays unset while the invite is waiting to be redeemed."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # owner, manager, marketer or viewer (mailfleet.desktop.services.people.Role).
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PersonAgentKey(Base):
    """One person's own API key for one agent: its secret is in that person's OS keyring under
    ``key_ref``; ``key_id`` is the agent's public id of it (to revoke it, to read its audit)."""

    __tablename__ = "person_agent_keys"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    key_ref: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(64), default="")


class Invite(Base):
    """A one-time invite: the new keys of its person, sealed with the secret only the invite
    string carries; ``sealed`` is emptied when it is redeemed."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # SHA-256 (hex) of the invite's secret.
    secret_hash: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One state-changing action: the desktop's own (``agent_id`` unset) or one copied from an
    agent's audit log (``agent_entry_id`` is its id there)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("agent_id", "agent_entry_id"),
        Index(None, "workspace_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The person's name as it was (a removed person's entries keep it), or the agent's key label.
    person: Mapped[str] = mapped_column(String(200), default="")
    key_id: Mapped[str] = mapped_column(String(64), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    agent_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    # Where: the desktop computer's host name, or the caller's address as the agent saw it.
    origin: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300), default="")
    outcome: Mapped[str] = mapped_column(String(60), default="ok")


class Template(Base):
    """A reusable message: subject, HTML and text as Jinja2 templates (the agent's renderer)."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(1000), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    # "html" (html and text as typed), "markdown" or "blocks": then ``source`` is the Markdown
    # or the design's JSON, and html and text are rendered from it on saving.
    editor: Mapped[str] = mapped_column(String(16), default="html", server_default="html")
    source: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Campaign(Base):
    """A campaign as the marketer composed it; its parts say which agents send it."""

    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint(f"state IN {_in(CampaignState)}", name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.DRAFT.value)
    # {"lists": [ids], "segments": [ids]}: contacts in any of them, mailable ones only.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(1000))
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    from_name: Mapped[str] = mapped_column(String(200), default="")
    from_address: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    throttle_per_minute: Mapped[int] = mapped_column(Integer, default=0)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The language of its recipients' unsubscribe and preference pages (sent as a ``lang:<xx>``
    # tag); empty: each recipient's browser chooses.
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    # Its A/B test (``services.ab_tests.AbPlan.to_json``); NULL: none, everyone gets the above.
    ab_test: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # The weekdays and hours it sends in (``services.send_windows``); NULL: any hour.
    send_window: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Prefix of the idempotency keys sent to agents: a retried upload finds its campaigns.
    key_prefix: Mapped[str] = mapped_column(String(64))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When retention began folding its per-recipient rows into ``campaign_recipient_totals``.
    details_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignPart(Base):
    """One agent's share of a campaign and how far its upload got."""

    __tablename__ = "campaign_parts"
    __table_args__ = (
        Index(None, "agent_id", "agent_campaign_id"),
        CheckConstraint(f"state IN {_in(PartState)}", name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    agent_campaign_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=PartState.PENDING.value)
    # Recipients of this part with an id up to this one are confirmed on the agent.
    uploaded_through: Mapped[int] = mapped_column(BigInteger, default=0)


class CampaignRecipient(Base):
    """One recipient of a campaign, the part that sends it and what became of it."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        Index(None, "part_id", "email"),
        Index(None, "campaign_id", "status"),
        Index(None, "part_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    part_id: Mapped[int] = mapped_column(ForeignKey("campaign_parts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=RecipientStatus.PENDING.value)
    deferrals: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[bool] = mapped_column(Boolean, default=False)
    clicked: Mapped[bool] = mapped_column(Boolean, default=False)
    complained: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why it failed or bounced, in the agent's words (its event's reason or the SMTP reply).
    reason: Mapped[str | None] = mapped_column(String(200))


class CampaignTimeline(Base):
    """Events of one kind for a campaign in one minute: the dashboard's chart over time."""

    __tablename__ = "campaign_timeline"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class CampaignRecipientTotals(Base):
    """Pruned recipients of a campaign, counted: one row per domain, status and reason.

    What ``services.stats`` reads from ``campaign_recipients`` is kept here once retention
    deletes those rows, so every figure stays the same; the people are gone.
    """

    __tablename__ = "campaign_recipient_totals"
    __table_args__ = (UniqueConstraint("campaign_id", "domain", "status", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    # The agent's reason for failed and bounced recipients; empty when it gave none.
    reason: Mapped[str] = mapped_column(String(200), default="")
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)  # deferred at least once
    complained: Mapped[int] = mapped_column(Integer, default=0)
    unsubscribed: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    clicked: Mapped[int] = mapped_column(Integer, default=0)


class SignupForm(Base):
    """A signup form as the marketer designed it; its agents host it at ``/f/<form_id>``.

    ``definition`` holds the editor's values (mailfleet.desktop.services.signup_forms);
    ``revision`` grows with every change, so each agent's ``pushed_revision`` says whether it
    still has to get the form.
    """

    __tablename__ = "signup_forms"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    form_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignupFormAgent(Base):
    """An agent that publishes a form, and the form's revision it last accepted (0: none)."""

    __tablename__ = "signup_form_agents"

    form_pk: Mapped[int] = mapped_column(
        ForeignKey("signup_forms.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    pushed_revision: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str] = mapped_column(String(1000), default="")
    snippet: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")


class SignupFormDeletion(Base):
    """A deleted form (by its public id) that an agent still has to take down; the row goes
    once the agent has (``mailfleet.desktop.agents.signup_push``)."""

    __tablename__ = "signup_form_deletions"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    form_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class ConsentRecord(Base):
    """The proof of one signup's consent (GDPR Art. 7), as the agent that took it reported it."""

    __tablename__ = "consent_records"
    __table_args__ = (UniqueConstraint("agent_id", "signup_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    signup_id: Mapped[int] = mapped_column(BigInteger)
    form_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    signed_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    consent_text: Mapped[str] = mapped_column(Text, default="")
    consent_version: Mapped[str] = mapped_column(String(200), default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_ip: Mapped[str] = mapped_column(String(64), default="")
    confirm_user_agent: Mapped[str] = mapped_column(String(500), default="")


class ConfirmationRequest(Base):
    """An imported contact that has to confirm through a form: its agent sends the double
    opt-in mail (``Signups.Subscribe``) once ``sent_at`` is set; the signup sync then brings
    the confirmation back like any form's."""

    __tablename__ = "confirmation_requests"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    form_pk: Mapped[int] = mapped_column(
        ForeignKey("signup_forms.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MediaImage(Base):
    """An image of the workspace's media library: its bytes, a thumbnail and its alt text.

    A template refers to it as ``media:<id>``; the send puts its public URL in its place.
    """

    __tablename__ = "media_images"
    __table_args__ = (UniqueConstraint("workspace_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # The file's name as uploaded, for people only: the type is read from the bytes.
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(String(500), default="", server_default="")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Automation(Base):
    """An automation as the marketer designed it; its agents run it.

    ``design`` holds the designer's values (mailfleet.desktop.services.automations) and
    ``definition`` the agent's JSON built from them when saved (the templates' text copied in,
    so a later edit of a template is not a silent change of a running automation). ``revision``
    grows with every save, so each agent's ``pushed_revision`` says whether it still has to get
    it; ``active`` is whether the marketer wants it running.
    """

    __tablename__ = "automations"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # the name the agents know it by: made once, kept when the marketer renames it
    agent_name: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    design: Mapped[dict[str, Any]] = mapped_column(JSON)
    definition: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutomationAgent(Base):
    """An agent that runs an automation: the revision and state it last accepted, the version
    it stored it as, or why it refused."""

    __tablename__ = "automation_agents"

    automation_id: Mapped[int] = mapped_column(
        ForeignKey("automations.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    pushed_revision: Mapped[int] = mapped_column(Integer, default=0)
    pushed_active: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
