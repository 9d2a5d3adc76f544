"""The audience overview's figures, without Qt: contacts today by status, and per week or month
the contacts who came (by source, or by the status they have today) and those who left
(unsubscribed, bounced, complained), zero-filled so a period in which nothing happened is a
zero, never left out.

A contact's past statuses are not kept, only its current one and when it was added; who left
when is read from the suppression list, where an unsubscribe, a bounce or a complaint puts the
address the moment the desktop learns of it. The audience at a period's start is therefore the
contacts added before it less those who had left before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, and_, case, func, select

from mailfleet.desktop.db.models import Contact, ContactStatus, Suppression, SuppressionReason
from mailfleet.desktop.services.contacts import MANUAL_SOURCE

PERIODS = ("week", "month")
# How many periods the charts show, the current one included.
SHOWN = {"week": 12, "month": 12}
SOURCES = ("import", "signup form", "by hand", "other")
LEFT_REASONS = (SuppressionReason.UNSUBSCRIBED, SuppressionReason.BOUNCED,
                SuppressionReason.COMPLAINED)  # fmt: skip


@dataclass(frozen=True)
class Overview:
    """Everything the overview shows for one period length; every list has one value per
    period of ``starts``."""

    period: str
    statuses: dict[str, int]  # ContactStatus value → contacts with it today
    starts: list[date]
    new_by_source: dict[str, list[int]]
    new_by_status: dict[str, list[int]]
    left_by_reason: dict[str, list[int]]
    # Contacts added, and contacts who left, before the first period shown.
    added_before: int
    left_before: int

    @property
    def total(self) -> int:
        """Contacts in the workspace today."""
        return sum(self.statuses.values())

    def new(self) -> list[int]:
        """Contacts added in each period."""
        return _sums(self.new_by_source.values(), len(self.starts))

    def left(self) -> list[int]:
        """Contacts who left in each period."""
        return _sums(self.left_by_reason.values(), len(self.starts))

    def audience_at_start(self) -> list[int]:
        """The audience when each period began: added before it, less those who had left."""
        found, audience = [], self.added_before - self.left_before
        for came, went in zip(self.new(), self.left(), strict=True):
            found.append(audience)
            audience += came - went
        return found

    def churn(self) -> list[float | None]:
        """Who left in a period as a share of the audience at its start (None with none)."""
        pairs = zip(self.left(), self.audience_at_start(), strict=True)
        return [went / start if start > 0 else None for went, start in pairs]


def _sums(rows: Iterable[list[int]], size: int) -> list[int]:
    total = [0] * size
    for row in rows:
        for i, n in enumerate(row):
            total[i] += n
    return total


def period_start(day: date, period: str) -> date:
    """The first day of the week (Monday) or month ``day`` is in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_starts(today: date, period: str) -> list[date]:
    """The first days of the ``SHOWN[period]`` periods up to the one ``today`` is in."""
    last = period_start(today, period)
    starts = [last]
    while len(starts) < SHOWN[period]:
        previous = starts[-1] - timedelta(days=1)
        starts.append(period_start(previous, period))
    return starts[::-1]


def _day(value: object) -> date:
    """A ``date()`` of SQL as a date: SQLite gives 'YYYY-MM-DD', PostgreSQL a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def read(conn: Connection, workspace_id: int, period: str, now: datetime | None = None) -> Overview:
    """The overview per ``period`` ("week" or "month") up to ``now`` (UTC days)."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    starts = period_starts(today, period)
    first = datetime.combine(starts[0], datetime.min.time(), UTC)
    index = {start: i for i, start in enumerate(starts)}

    def slot(day: object) -> int | None:
        return index.get(period_start(_day(day), period))

    statuses = {s.value: 0 for s in ContactStatus}
    for status, n in conn.execute(
        select(Contact.status, func.count()).where(Contact.workspace_id == workspace_id)
        .group_by(Contact.status)
    ):  # fmt: skip
        statuses[status] = int(n)
    source = case(
        (Contact.consent_source.like("import%"), "import"),
        (Contact.consent_source.like("signup form%"), "signup form"),
        (Contact.consent_source == MANUAL_SOURCE, "by hand"),
        else_="other",
    )
    size = len(starts)
    by_source = {s: [0] * size for s in SOURCES}
    by_status = {s.value: [0] * size for s in ContactStatus}
    day = func.date(Contact.created_at)
    for when, came_by, status, n in conn.execute(
        select(day, source, Contact.status, func.count())
        .where(Contact.workspace_id == workspace_id, Contact.created_at >= first)
        .group_by(day, source, Contact.status)
    ):
        i = slot(when)
        if i is not None:
            by_source[came_by][i] += int(n)
            by_status[status][i] += int(n)
    added_before = int(conn.scalar(
        select(func.count()).select_from(Contact)
        .where(Contact.workspace_id == workspace_id, Contact.created_at < first)
    ) or 0)  # fmt: skip
    left_by_reason = {r.value: [0] * size for r in LEFT_REASONS}
    # Only entries for an address that is a contact: a suppression list imported from
    # elsewhere is not people leaving.
    of_contacts = and_(
        Suppression.workspace_id == workspace_id,
        Suppression.reason.in_([r.value for r in LEFT_REASONS]),
    )
    joined = Suppression.__table__.join(
        Contact.__table__,
        and_(Contact.workspace_id == Suppression.workspace_id,
             Contact.email_key == Suppression.email_key),
    )  # fmt: skip
    left_day = func.date(Suppression.created_at)
    for when, reason, n in conn.execute(
        select(left_day, Suppression.reason, func.count()).select_from(joined)
        .where(of_contacts, Suppression.created_at >= first)
        .group_by(left_day, Suppression.reason)
    ):  # fmt: skip
        i = slot(when)
        if i is not None:
            left_by_reason[reason][i] += int(n)
    left_before = int(conn.scalar(
        select(func.count()).select_from(joined)
        .where(of_contacts, Suppression.created_at < first)
    ) or 0)  # fmt: skip
    return Overview(period, statuses, starts, by_source, by_status, left_by_reason,
                    added_before, left_before)  # fmt: skip
