"""Retention of per-recipient details: old campaigns' recipients become totals, then go.

At our volume ``campaign_recipients`` and ``engagement_events`` grow by millions of rows a day.
A finished (completed or cancelled) campaign whose last event is older than the workspace's
``recipient_retention_days`` has its recipient rows folded into ``campaign_recipient_totals``
(one row per domain, status and reason, with the counts ``services.stats`` reads) and deleted,
then its engagement events deleted: its figures stay exactly what they were, the people go.

The work is done in steps of one small transaction each (``prune_step``), so the caller can
run it beside the event sync and the window's own writes; a step folds and deletes the same
rows, so the figures are right between any two steps and after a crash. The campaign's
``details_pruned_at`` says when its pruning began (and that its recipients are no longer
listed). Late events for a pruned campaign still reach its chart, but its per-recipient
totals are final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    SQLColumnExpression,
    case,
    cast,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from mailfleet.desktop.db.models import (
    Campaign,
    CampaignRecipient,
    CampaignRecipientTotals,
    CampaignState,
    CampaignTimeline,
    EngagementEvent,
    Workspace,
)
from mailfleet.desktop.services import people, signup_expiry
from mailfleet.desktop.services.people import Action

# Rows per transaction: small enough that the event sync never waits long behind a step.
BATCH = 5_000
MAX_DAYS = 3650
_FINISHED = (CampaignState.COMPLETED.value, CampaignState.CANCELLED.value)
# Engagement events of messages that were not a desktop campaign's (the sync gives them 0).
NO_CAMPAIGN = 0


class RetentionError(ValueError):
    """The retention setting cannot be saved as asked; the message says why."""


def retention_days(conn: Connection, workspace_id: int) -> int:
    """How many days finished campaigns keep their per-recipient details."""
    days = conn.scalar(
        select(Workspace.recipient_retention_days).where(Workspace.id == workspace_id)
    )
    if days is None:
        raise LookupError(f"no workspace {workspace_id}")
    return int(days)


def set_retention_days(conn: Connection, workspace_id: int, days: int) -> None:
    """Keep per-recipient details ``days`` days (1 to ``MAX_DAYS``); owners and managers only."""
    people.require(conn, Action.CHANGE_SETTINGS)
    if not 1 <= days <= MAX_DAYS:
        raise RetentionError(f"choose between 1 and {MAX_DAYS:,} days")
    conn.execute(
        update(Workspace).where(Workspace.id == workspace_id).values(recipient_retention_days=days)
    )


def pruned_campaigns(conn: Connection, workspace_id: int) -> dict[int, datetime]:
    """Campaign id → when its per-recipient details began to be deleted."""
    rows = conn.execute(
        select(Campaign.id, Campaign.details_pruned_at).where(
            Campaign.workspace_id == workspace_id, Campaign.details_pruned_at.is_not(None)
        )
    )
    return {int(i): at for i, at in rows if at is not None}


@dataclass(frozen=True)
class Step:
    """What one ``prune_step`` did; ``campaign_id`` is None when nothing was left to do."""

    campaign_id: int | None
    recipients: int = 0  # recipient rows folded into totals and deleted
    events: int = 0  # engagement events deleted
    signups: int = 0  # contacts whose signups all expired long ago, deleted

    @property
    def done(self) -> bool:
        """True when there was nothing left to prune."""
        return self.campaign_id is None


def prune_step(
    conn: Connection, workspace_id: int, now: datetime | None = None, batch: int = BATCH
) -> Step:
    """Do one batch of pruning in the caller's transaction; call again until ``done``."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days(conn, workspace_id))
    campaign_id = _in_progress(conn, workspace_id) or _start_next(conn, workspace_id, cutoff)
    if campaign_id is not None:
        folded = _fold(conn, campaign_id, batch)
        if folded:
            return Step(campaign_id, recipients=folded)
        return Step(campaign_id, events=_delete_events(conn, workspace_id, campaign_id, batch))
    orphans = _delete_events(conn, workspace_id, NO_CAMPAIGN, batch, before=cutoff)
    if orphans:
        return Step(NO_CAMPAIGN, events=orphans)
    forgotten = signup_expiry.delete_expired(conn, workspace_id, now or datetime.now(UTC), batch)
    return Step(NO_CAMPAIGN, signups=forgotten) if forgotten else Step(None)


def prune(conn: Connection, workspace_id: int, now: datetime | None = None) -> int:
    """Every step at once, in the caller's transaction (for tests and the benchmark);
    returns the recipient rows folded."""
    folded = 0
    while not (step := prune_step(conn, workspace_id, now)).done:
        folded += step.recipients
    return folded


def _has_details(campaign: SQLColumnExpression[int]) -> ColumnElement[bool]:
    return or_(
        exists().where(CampaignRecipient.campaign_id == campaign),
        exists().where(EngagementEvent.campaign_id == campaign),
    )


def _in_progress(conn: Connection, workspace_id: int) -> int | None:
    """A campaign whose pruning began and still has rows (an earlier run stopped midway)."""
    return conn.scalar(
        select(Campaign.id)
        .where(
            Campaign.workspace_id == workspace_id,
            Campaign.details_pruned_at.is_not(None),
            _has_details(Campaign.id),
        )
        .order_by(Campaign.id)
        .limit(1)
    )


def _start_next(conn: Connection, workspace_id: int, cutoff: datetime) -> int | None:
    """Mark the oldest finished campaign quiet since before ``cutoff`` as being pruned."""
    last_event = (
        select(func.max(CampaignTimeline.minute))
        .where(CampaignTimeline.campaign_id == Campaign.id)
        .scalar_subquery()
    )
    campaign_id = conn.scalar(
        select(Campaign.id)
        .where(
            Campaign.workspace_id == workspace_id,
            Campaign.state.in_(_FINISHED),
            Campaign.details_pruned_at.is_(None),
            func.coalesce(last_event, Campaign.created_at) < cutoff,
        )
        .order_by(Campaign.id)
        .limit(1)
    )
    if campaign_id is not None:
        conn.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(details_pruned_at=datetime.now(UTC))
        )
    return campaign_id


def _fold(conn: Connection, campaign_id: int, batch: int) -> int:
    """Count up to ``batch`` of the campaign's recipient rows into its totals and delete
    them; returns how many went."""
    r = CampaignRecipient
    part_id = conn.scalar(select(r.part_id).where(r.campaign_id == campaign_id).limit(1))
    if part_id is None:
        return 0
    # Keyset by part: (part_id, id) is indexed, so a batch is one index range.
    upper = conn.scalar(
        select(r.id).where(r.part_id == part_id).order_by(r.id).offset(batch - 1).limit(1)
    )
    rows = [r.part_id == part_id, *([r.id <= upper] if upper is not None else [])]
    # A late event updating one of these rows waits for this transaction (PostgreSQL).
    conn.execute(select(r.id).where(*rows).with_for_update())
    reason = func.coalesce(r.reason, "")

    def total(column: SQLColumnExpression[bool]) -> ColumnElement[int]:
        return func.sum(cast(column, Integer))

    counted = (
        select(
            r.campaign_id,
            r.domain,
            r.status,
            reason,
            func.count(),
            func.sum(case((r.deferrals > 0, 1), else_=0)),
            total(r.complained),
            total(r.unsubscribed),
            total(r.opened),
            total(r.clicked),
        )
        .where(*rows)
        .group_by(r.campaign_id, r.domain, r.status, reason)
    )
    t = CampaignRecipientTotals
    counts = ("recipients", "deferred", "complained", "unsubscribed", "opened", "clicked")
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(t).from_select(
        ["campaign_id", "domain", "status", "reason", *counts], counted
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["campaign_id", "domain", "status", "reason"],
            set_={c: getattr(t, c) + getattr(statement.excluded, c) for c in counts},
        )
    )
    return int(conn.execute(delete(r).where(*rows)).rowcount)


def _delete_events(
    conn: Connection,
    workspace_id: int,
    campaign_id: int,
    batch: int,
    before: datetime | None = None,
) -> int:
    """Delete up to ``batch`` engagement events of the campaign (older than ``before``)."""
    e = EngagementEvent
    where = [e.workspace_id == workspace_id, e.campaign_id == campaign_id]
    if before is not None:
        where.append(e.occurred_at < before)
    upper = conn.scalar(select(e.id).where(*where).order_by(e.id).offset(batch - 1).limit(1))
    if upper is not None:
        where.append(e.id <= upper)
    return int(conn.execute(delete(e).where(*where)).rowcount)
