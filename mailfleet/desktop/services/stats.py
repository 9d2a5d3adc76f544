"""Campaign figures from the synced events: totals, per domain, over time, comparisons.

Everything is read from ``campaign_recipients`` (one row per recipient, updated by the event
sync), ``campaign_recipient_totals`` (the counts of recipients retention pruned, added in, so
a pruned campaign's figures do not change) and ``campaign_timeline`` (events per minute): the
figures are those of the desktop's own database and survive restarts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    SQLColumnExpression,
    Subquery,
    case,
    cast,
    exists,
    func,
    literal,
    select,
    union_all,
)

from mailfleet.desktop.db.models import (
    Campaign,
    CampaignRecipient,
    CampaignRecipientTotals,
    CampaignTimeline,
    RecipientStatus,
)

# Gmail's bulk sender guideline: keep spam complaints under 0.3 %.
COMPLAINT_LINE = 0.003


@dataclass(frozen=True)
class Totals:
    """A campaign's (or all campaigns') recipients by what became of them."""

    recipients: int = 0
    queued: int = 0
    deferred: int = 0
    delivered: int = 0
    captured: int = 0  # kept in an agent's capture mailbox: never left that machine
    bounced: int = 0
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0
    rejected: int = 0
    unknown: int = 0  # outcome in events the agent pruned before the desktop read them
    complained: int = 0
    unsubscribed: int = 0
    opened: int = 0
    clicked: int = 0

    def as_dict(self) -> dict[str, int]:
        """Name → count, in display order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _campaigns(
    column: SQLColumnExpression[int], workspace_id: int, campaign_id: int | None
) -> list[ColumnElement[bool]]:
    condition: list[ColumnElement[bool]] = [
        column.in_(select(Campaign.id).where(Campaign.workspace_id == workspace_id))
    ]
    if campaign_id is not None:
        condition.append(column == campaign_id)
    return condition


def _recipients(conn: Connection, workspace_id: int, campaign_id: int | None) -> Subquery:
    """One row per recipient still held, plus the totals of those retention pruned, as the
    same columns: ``n`` recipients of ``domain`` in ``status`` for ``reason``, and how many of
    them were deferred at least once, complained, unsubscribed, opened and clicked."""
    r = CampaignRecipient
    held = select(
        r.domain.label("domain"),
        r.status.label("status"),
        func.coalesce(r.reason, "").label("reason"),
        literal(1, Integer).label("n"),
        case((r.deferrals > 0, 1), else_=0).label("deferred"),
        *(
            cast(c, Integer).label(c.key)
            for c in (r.complained, r.unsubscribed, r.opened, r.clicked)
        ),
    ).where(*_campaigns(r.campaign_id, workspace_id, campaign_id))
    t = CampaignRecipientTotals
    in_scope = _campaigns(t.campaign_id, workspace_id, campaign_id)
    # Without pruned totals the plain query keeps its plan (SQLite flattens it).
    if not conn.scalar(select(exists().where(*in_scope))):
        return held.subquery()
    pruned = select(
        t.domain, t.status, t.reason, t.recipients.label("n"), t.deferred,
        t.complained, t.unsubscribed, t.opened, t.clicked,
    ).where(*in_scope)  # fmt: skip
    return union_all(held, pruned).subquery()


def _sum(column: SQLColumnExpression[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(column), 0)


def totals(conn: Connection, workspace_id: int, campaign_id: int | None = None) -> Totals:
    """The totals of one campaign, or of every campaign in the workspace."""
    rows = _recipients(conn, workspace_id, campaign_id).c
    by_status = {
        status: int(n)
        for status, n in conn.execute(select(rows.status, _sum(rows.n)).group_by(rows.status)).all()
    }
    flags = conn.execute(
        select(*(_sum(c) for c in (rows.complained, rows.unsubscribed, rows.opened, rows.clicked)))
    ).one()
    s = RecipientStatus
    return Totals(
        recipients=sum(by_status.values()) - by_status.get(s.MOVED.value, 0),
        queued=by_status.get(s.PENDING.value, 0),
        deferred=by_status.get(s.DEFERRED.value, 0),
        delivered=by_status.get(s.DELIVERED.value, 0),
        captured=by_status.get(s.CAPTURED.value, 0),
        bounced=by_status.get(s.BOUNCED.value, 0),
        failed=by_status.get(s.FAILED.value, 0),
        suppressed=by_status.get(s.SUPPRESSED.value, 0),
        cancelled=by_status.get(s.CANCELLED.value, 0),
        rejected=by_status.get(s.REJECTED.value, 0),
        unknown=by_status.get(s.UNKNOWN.value, 0),
        complained=int(flags[0]),
        unsubscribed=int(flags[1]),
        opened=int(flags[2]),
        clicked=int(flags[3]),
    )


@dataclass(frozen=True)
class Reason:
    """How many recipients failed (or bounced) for one reason the agent gave."""

    status: RecipientStatus  # FAILED or BOUNCED
    reason: str  # empty when the agent gave none
    count: int


def failure_reasons(
    conn: Connection, workspace_id: int, campaign_id: int | None = None, limit: int = 10
) -> list[Reason]:
    """The commonest reasons recipients failed or bounced, most frequent first."""
    statuses = (RecipientStatus.FAILED.value, RecipientStatus.BOUNCED.value)
    rows = _recipients(conn, workspace_id, campaign_id).c
    count = _sum(rows.n)
    found = conn.execute(
        select(rows.status, rows.reason, count)
        .where(rows.status.in_(statuses))
        .group_by(rows.status, rows.reason)
        .order_by(count.desc(), rows.reason, rows.status)
        .limit(limit)
    ).all()
    return [Reason(RecipientStatus(s), r, int(n)) for s, r, n in found]


@dataclass(frozen=True)
class DomainRow:
    """Deliverability to one recipient domain."""

    domain: str
    recipients: int
    delivered: int
    deferred: int  # recipients deferred at least once
    bounced: int
    complained: int

    @property
    def bounce_rate(self) -> float:
        """Bounces per recipient reached or refused."""
        done = self.delivered + self.bounced
        return self.bounced / done if done else 0.0

    @property
    def complaint_rate(self) -> float:
        """Complaints per delivered message (Gmail's measure)."""
        return self.complained / self.delivered if self.delivered else 0.0

    @property
    def over_complaint_line(self) -> bool:
        """True when complaints pass Gmail's 0.3 % line."""
        return self.complaint_rate > COMPLAINT_LINE


def per_domain(
    conn: Connection, workspace_id: int, campaign_id: int | None = None, limit: int = 100
) -> list[DomainRow]:
    """The biggest recipient domains with their figures."""
    rows = _recipients(conn, workspace_id, campaign_id).c

    def count_if(status: RecipientStatus) -> ColumnElement[int]:
        return _sum(case((rows.status == status.value, rows.n), else_=0))

    count = _sum(rows.n)
    found = conn.execute(
        select(
            rows.domain,
            count,
            count_if(RecipientStatus.DELIVERED),
            _sum(rows.deferred),
            count_if(RecipientStatus.BOUNCED),
            _sum(rows.complained),
        )
        .where(rows.status != RecipientStatus.MOVED.value)
        .group_by(rows.domain)
        .order_by(count.desc(), rows.domain)
        .limit(limit)
    )
    return [DomainRow(d, int(n), int(dl), int(df), int(b), int(c)) for d, n, dl, df, b, c in found]


def timeline(
    conn: Connection, workspace_id: int, campaign_id: int | None = None, bucket_minutes: int = 1
) -> dict[str, list[tuple[datetime, int]]]:
    """Kind → [(bucket start, count)] in time order, buckets of ``bucket_minutes``."""
    query = select(CampaignTimeline.minute, CampaignTimeline.kind, CampaignTimeline.count).where(
        *_campaigns(CampaignTimeline.campaign_id, workspace_id, campaign_id)
    )
    buckets: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for minute, kind, count in conn.execute(query):
        offset = (minute.hour * 60 + minute.minute) % bucket_minutes
        start = minute - timedelta(minutes=offset)
        buckets[kind][start] += count
    return {kind: sorted(values.items()) for kind, values in buckets.items()}


@dataclass(frozen=True)
class CampaignFigures:
    """One line of the campaign comparison."""

    id: int
    name: str
    state: str
    created_at: datetime
    totals: Totals

    def rate(self, name: str) -> float:
        """``name`` (e.g. "opened") per delivered message."""
        delivered = self.totals.delivered
        return getattr(self.totals, name) / delivered if delivered else 0.0


def compare(conn: Connection, workspace_id: int) -> list[CampaignFigures]:
    """Every campaign's figures, newest first."""
    rows = conn.execute(
        select(Campaign.id, Campaign.name, Campaign.state, Campaign.created_at)
        .where(Campaign.workspace_id == workspace_id)
        .order_by(Campaign.id.desc())
    ).all()
    return [CampaignFigures(i, n, s, c, totals(conn, workspace_id, i)) for i, n, s, c in rows]


def daily_trend(conn: Connection, workspace_id: int) -> dict[str, list[tuple[datetime, int]]]:
    """Kind → [(day, count)] across every campaign."""
    return timeline(conn, workspace_id, None, bucket_minutes=24 * 60)


@dataclass(frozen=True)
class RecipientList:
    """A campaign's recipients as far as they are kept: the drill-down under the figures."""

    rows: list[tuple[str, RecipientStatus, str]]  # address, status, reason ("" if none)
    held: int  # how many recipient rows the campaign still has (``rows`` may be fewer)
    # When retention began deleting them; None while every recipient is kept.
    pruned_at: datetime | None


def recipients(
    conn: Connection,
    workspace_id: int,
    campaign_id: int,
    status: RecipientStatus | None = None,
    limit: int = 1000,
) -> RecipientList:
    """The campaign's recipients (those in ``status``), first ``limit`` in upload order."""
    r = CampaignRecipient
    pruned_at = conn.scalar(
        select(Campaign.details_pruned_at).where(
            Campaign.id == campaign_id, Campaign.workspace_id == workspace_id
        )
    )
    where = [
        *_campaigns(r.campaign_id, workspace_id, campaign_id),
        r.status != RecipientStatus.MOVED.value,
    ]
    if status is not None:
        where.append(r.status == status.value)
    held = int(conn.scalar(select(func.count()).select_from(r).where(*where)) or 0)
    rows = conn.execute(
        select(r.email, r.status, func.coalesce(r.reason, ""))
        .where(*where)
        .order_by(r.id)
        .limit(limit)
    )
    return RecipientList([(e, RecipientStatus(s), why) for e, s, why in rows], held, pruned_at)
