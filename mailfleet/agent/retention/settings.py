"""How long the agent keeps what it no longer needs to deliver (``[retention]``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetentionSettings(BaseModel):
    """Retention windows in days; pruning runs in the background in small transactions."""

    # The events log; a client whose cursor is older gets OUT_OF_RANGE and resyncs.
    events_days: float = Field(30.0, gt=0)
    # Recipient data (merge fields) and transactional content of messages in a final state.
    bodies_days: float = Field(7.0, gt=0)
    # The capture mailbox.
    capture_days: float = Field(7.0, gt=0)
    # Transactional messages in a final state (and so their idempotency keys) are deleted.
    transactional_days: float = Field(30.0, gt=0)
    # Messages in a final state of ended (completed or cancelled) campaigns are deleted, their
    # counts kept per campaign and day: the campaign's statistics stay as they were.
    messages_days: float = Field(30.0, gt=0)
    # Signups nobody confirmed are deleted this long after their link expired, with their
    # consent records (IP address, user agent) and fields; confirmed ones stay as proof.
    unconfirmed_signups_days: float = Field(30.0, gt=0)
    # The audit log: who changed what over the API and the command line.
    audit_days: float = Field(365.0, gt=0)
    # Seconds between pruning passes, and rows per pruning transaction.
    interval_seconds: float = Field(300.0, gt=0)
    batch: int = Field(2000, ge=10, le=100_000)
