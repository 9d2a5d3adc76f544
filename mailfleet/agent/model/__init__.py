"""The agent's domain types, free of gRPC and SQL.

The enums carry the same numbers as their ``mailfleet.v1`` counterparts (a test keeps them in
step), so the store and the API convert by value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import IntEnum

from mailfleet.agent.model.send_window import SendWindow


class MessageState(IntEnum):
    """Where a message is in its life (ARCHITECTURE.md, "Message states")."""

    QUEUED = 1
    IN_FLIGHT = 2
    DELIVERED = 3
    DEFERRED = 4
    BOUNCED = 5
    SUPPRESSED = 6
    FAILED = 7
    CANCELLED = 8


FINAL_STATES = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.BOUNCED,
        MessageState.SUPPRESSED,
        MessageState.FAILED,
        MessageState.CANCELLED,
    }
)


class Lane(IntEnum):
    """Transactional mail is served before bulk."""

    TRANSACTIONAL = 1
    BULK = 2


class CampaignState(IntEnum):
    """A campaign's stored state; SCHEDULED is derived from RUNNING and a future start time."""

    DRAFT = 1
    SCHEDULED = 2
    RUNNING = 3
    PAUSED = 4
    COMPLETED = 5
    CANCELLED = 6


class EventType(IntEnum):
    """Kinds of entries in the events log."""

    CAMPAIGN_CREATED = 1
    RECIPIENTS_ADDED = 2
    CAMPAIGN_STARTED = 3
    CAMPAIGN_PAUSED = 4
    CAMPAIGN_RESUMED = 5
    CAMPAIGN_CANCELLED = 6
    CAMPAIGN_COMPLETED = 7
    MESSAGE_QUEUED = 8
    MESSAGE_DELIVERED = 9
    MESSAGE_DEFERRED = 10
    MESSAGE_BOUNCED = 11
    MESSAGE_FAILED = 12
    MESSAGE_SUPPRESSED = 13
    MESSAGE_CANCELLED = 14
    MESSAGE_COMPLAINED = 15
    MESSAGE_UNSUBSCRIBED = 16
    MESSAGE_OPENED = 17
    MESSAGE_CLICKED = 18


@dataclass(frozen=True)
class Sender:
    """The From identity of a message."""

    from_address: str
    from_name: str = ""
    reply_to: str = ""


@dataclass(frozen=True)
class Content:
    """Jinja2 templates of a message and its extra headers."""

    subject: str
    html: str = ""
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tracking:
    """Whether opens and clicks are tracked."""

    opens: bool = False
    clicks: bool = False


class AbWinnerRule(IntEnum):
    """How an A/B test picks its winner (mailfleet.v1.AbWinnerRule)."""

    OPENS = 1
    CLICKS = 2
    MANUAL = 3


@dataclass(frozen=True)
class AbVariant:
    """What one variant of an A/B test changes of its campaign; "": the campaign's."""

    subject: str = ""
    from_name: str = ""
    html: str = ""
    text: str = ""

    def apply(self, sender: Sender, content: Content) -> tuple[Sender, Content]:
        """The campaign's sender and content as this variant sends them."""
        return (
            replace(sender, from_name=self.from_name or sender.from_name),
            replace(
                content,
                subject=self.subject or content.subject,
                html=self.html or content.html,
                text=self.text or content.text,
            ),
        )


@dataclass(frozen=True)
class AbTest:
    """An A/B test: variants tried on a random share of the recipients, then the winner."""

    variants: tuple[AbVariant, ...]
    test_percent: int
    rule: AbWinnerRule
    wait_hours: int


@dataclass(frozen=True)
class CampaignSpec:
    """What a client asked for when it created a campaign."""

    name: str
    sender: Sender
    content: Content
    idempotency_key: str
    tags: tuple[str, ...] = ()
    throttle_per_minute: int = 0
    start_at: float | None = None
    tracking: Tracking = Tracking()
    ab_test: AbTest | None = None  # None: every recipient gets ``content``
    send_window: SendWindow | None = None  # None: any hour


@dataclass(frozen=True)
class Campaign:
    """A stored campaign with its counts by message state."""

    id: int
    tenant_id: int
    spec: CampaignSpec
    state: CampaignState
    created_at: float
    updated_at: float
    counts: dict[MessageState, int]


@dataclass
class RecipientRows:
    """One batch of checked recipients, new to the batch, in upload order.

    Kept as parallel lists of plain tuples: a million-row upload makes a million of them.
    """

    # Position of each row in the upload stream.
    positions: list[int] = field(default_factory=list)
    # (email, email_norm, payload): the payload is the recipient with its merge fields, as
    # mailfleet.agent.model.payload.encode_text wrote it, for the document below to carry.
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    # (position, email) of rows that repeat an address earlier in the same batch.
    repeats: list[tuple[int, str]] = field(default_factory=list)

    def document(self) -> str:
        """``rows`` as the JSON array the store's insert reads.

        Encoded by whoever prepares the batch, so the store's writer thread does not spend its
        time (holding the GIL) on it.
        """
        return json.dumps(self.rows)


@dataclass(frozen=True)
class TransactionalMessage:
    """A validated transactional message, ready to store."""

    idempotency_key: str
    sender: Sender
    email: str
    email_norm: str
    payload: bytes  # mailfleet.agent.model.payload: the recipient's name and fields
    content: Content | None
    raw_mime: bytes | None
    tags: tuple[str, ...] = ()
    tracking: Tracking = Tracking()


@dataclass(frozen=True)
class StoredMessage:
    """A message row as clients see it."""

    id: int
    campaign_id: int | None
    lane: Lane
    email: str
    state: MessageState
    attempts: int
    created_at: float
    updated_at: float
    next_at: float | None
    last_reply: str
    idempotency_key: str


@dataclass(frozen=True)
class Event:
    """One entry of the events log."""

    seq: int
    tenant_id: int
    time: float
    type: EventType
    campaign_id: int | None = None
    message_id: int | None = None
    email: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
