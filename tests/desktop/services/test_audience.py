"""The audience overview's figures (issue 24) on SQLite and PostgreSQL: who came per week and
month by source and by today's status, who left and why, zero-filled periods, the audience at
each period's start and the churn that follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, update

from mailfleet.desktop.db.models import Contact, ContactStatus, Suppression, SuppressionReason
from mailfleet.desktop.services import audience, suppression
from mailfleet.desktop.services.contacts import MANUAL_SOURCE

NOW = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)  # a Wednesday
WEEK = timedelta(days=7)


def _add(engine: Engine, ws: int, email: str, when: datetime, source: str | None,
         status: ContactStatus = ContactStatus.SUBSCRIBED) -> None:  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(Contact).values(workspace_id=ws, email=email, consent_source=source,
                                            status=status.value, created_at=when,
                                            updated_at=when))  # fmt: skip


def _leave(engine: Engine, ws: int, email: str, reason: SuppressionReason, when: datetime) -> None:
    with engine.begin() as conn:
        suppression.add(conn, ws, email, reason, "test")
        conn.execute(update(Suppression).where(Suppression.email == email)
                     .values(created_at=when))  # fmt: skip


def test_weeks_count_who_came_and_left_with_quiet_weeks_as_zero(
    engine: Engine, workspace: int
) -> None:
    ws = workspace
    long_ago = NOW - 30 * WEEK
    _add(engine, ws, "old1@x.example", long_ago, "import: old.csv")
    _add(engine, ws, "old2@x.example", long_ago, "import: old.csv")
    _add(engine, ws, "old3@x.example", long_ago, MANUAL_SOURCE)
    _leave(engine, ws, "old3@x.example", SuppressionReason.BOUNCED, long_ago + WEEK)
    # Three weeks ago: two imported; this week: a signup (pending) and one by hand.
    _add(engine, ws, "a@x.example", NOW - 3 * WEEK, "import: a.csv")
    _add(engine, ws, "b@x.example", NOW - 3 * WEEK, "import: a.csv")
    _add(engine, ws, "c@x.example", NOW - timedelta(days=1), "signup form f1",
         ContactStatus.UNCONFIRMED)  # fmt: skip
    _add(engine, ws, "d@x.example", NOW - timedelta(hours=1), MANUAL_SOURCE)
    # Last week one of the old ones unsubscribed; this week one of the new ones complained.
    _leave(engine, ws, "old1@x.example", SuppressionReason.UNSUBSCRIBED, NOW - WEEK)
    _leave(engine, ws, "a@x.example", SuppressionReason.COMPLAINED, NOW - timedelta(hours=2))
    # A suppression for somebody who was never a contact is not somebody leaving.
    _leave(engine, ws, "stranger@x.example", SuppressionReason.UNSUBSCRIBED, NOW)

    with engine.connect() as conn:
        found = audience.read(conn, ws, "week", NOW)
    assert len(found.starts) == audience.SHOWN["week"]
    assert found.starts[-1] == date(2026, 12, 7)  # this week's Monday
    assert all(b - a == WEEK for a, b in zip(found.starts, found.starts[1:], strict=False))
    assert found.statuses == {"subscribed": 3, "unconfirmed": 1, "unsubscribed": 1,
                              "bounced": 1, "complained": 1}  # fmt: skip
    assert found.total == 7
    assert found.new()[-4:] == [2, 0, 0, 2]
    assert sum(found.new()) == 4  # the old ones came before the weeks shown
    assert found.new_by_source["import"][-4] == 2
    assert found.new_by_source["signup form"][-1] == 1
    assert found.new_by_source["by hand"][-1] == 1
    assert found.new_by_status["unconfirmed"][-1] == 1
    assert found.new_by_status["complained"][-4] == 1  # a@ came then and complained since
    assert found.left_by_reason["unsubscribed"][-2:] == [1, 0]
    assert found.left_by_reason["complained"][-1] == 1
    assert sum(found.left()) == 2
    assert (found.added_before, found.left_before) == (3, 1)
    assert found.audience_at_start()[-4:] == [2, 4, 4, 3]
    assert found.churn()[-2:] == [1 / 4, 1 / 3]
    assert found.churn()[-3] == 0


def test_months_and_an_empty_workspace(engine: Engine, workspace: int) -> None:
    with engine.connect() as conn:
        empty = audience.read(conn, workspace, "month", NOW)
    assert empty.total == 0
    assert len(empty.starts) == audience.SHOWN["month"]
    assert empty.starts[-1] == date(2026, 12, 1) and empty.starts[0] == date(2026, 1, 1)
    assert set(empty.new()) == {0} and set(empty.left()) == {0}
    assert set(empty.churn()) == {None}
    _add(engine, workspace, "n@x.example", datetime(2026, 11, 30, 23, 0, tzinfo=UTC), None)
    with engine.connect() as conn:
        one = audience.read(conn, workspace, "month", NOW)
    assert one.new()[-2:] == [1, 0]
    assert one.new_by_source["other"][-2] == 1
