"""Retention of per-recipient details: figures stay exactly the same, the rows go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, update

from mailfleet.desktop.db.models import (
    Agent,
    Campaign,
    CampaignRecipient,
    CampaignState,
    CampaignTimeline,
    Contact,
    EngagementEvent,
    RecipientStatus,
)
from mailfleet.desktop.services import analytics_export, campaigns, privacy, retention, stats
from mailfleet.desktop.services.campaigns import Audience, Draft
from tests.desktop.fleetkit import seed_contacts

S = RecipientStatus
# What each recipient (by position) became: a mix of every status, flag and reason.
OUTCOMES: list[tuple[RecipientStatus, str | None, dict[str, Any]]] = [
    (S.DELIVERED, None, {"opened": True, "clicked": True}),
    (S.DELIVERED, None, {"opened": True, "deferrals": 2}),
    (S.DELIVERED, None, {"complained": True, "unsubscribed": True}),
    (S.CAPTURED, None, {}),
    (S.BOUNCED, "550 5.1.1 user unknown", {"deferrals": 1}),
    (S.BOUNCED, "550 5.1.1 user unknown", {}),
    (S.BOUNCED, None, {}),
    (S.FAILED, "needs SMTPUTF8", {}),
    (S.SUPPRESSED, None, {}),
    (S.MOVED, None, {}),
    (S.CANCELLED, None, {}),
    (S.UNKNOWN, None, {}),
]
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _agent(conn: Connection, ws: int, name: str) -> int:
    agent_id = conn.scalar(
        insert(Agent)
        .values(workspace_id=ws, name=name, host=name, port=1, fingerprint="0",
                key_ref=name)
        .returning(Agent.id)
    )  # fmt: skip
    assert agent_id is not None
    return int(agent_id)


def _campaign(engine: Engine, ws: int, list_id: int, name: str, last_event: datetime) -> int:
    """A finished campaign over two agents whose recipients met every fate."""
    with engine.begin() as conn:
        agents = tuple((_agent(conn, ws, f"{name}-{n}"), n) for n in (1, 2))
    draft = Draft(name=name, audience=Audience(lists=(list_id,)), subject="Hi", text="Hello",
                  from_address="news@shop.example.com", agents=agents)  # fmt: skip
    campaign_id = campaigns.create(engine, ws, draft)
    with engine.begin() as conn:
        ids = conn.scalars(
            select(CampaignRecipient.id)
            .where(CampaignRecipient.campaign_id == campaign_id)
            .order_by(CampaignRecipient.id)
        ).all()
        for i, rid in enumerate(ids):
            status, reason, flags = OUTCOMES[i % len(OUTCOMES)]
            conn.execute(
                update(CampaignRecipient)
                .where(CampaignRecipient.id == rid)
                .values(status=status.value, reason=reason, **flags)
            )
        conn.execute(
            insert(CampaignTimeline),
            [
                {
                    "campaign_id": campaign_id,
                    "minute": last_event - timedelta(days=d),
                    "kind": k,
                    "count": 3 + d,
                }
                for d in (0, 1)
                for k in ("delivered", "opened")
            ],
        )
        contacts = conn.execute(select(Contact.id).where(Contact.workspace_id == ws)).scalars()
        conn.execute(
            insert(EngagementEvent),
            [
                {
                    "workspace_id": ws,
                    "contact_id": c,
                    "campaign_id": campaign_id,
                    "kind": "opened",
                    "occurred_at": last_event,
                }
                for c in contacts
            ],
        )
        campaigns.set_state(conn, campaign_id, CampaignState.COMPLETED)
    return campaign_id


def _figures(engine: Engine, ws: int, campaign_ids: list[int], tmp_path: Path) -> dict[str, object]:
    """Every figure the dashboard, analytics, campaign list and CSV export show."""
    with engine.connect() as conn:
        compare = stats.compare(conn, ws)
        trend = stats.daily_trend(conn, ws)
        domains = stats.per_domain(conn, ws, None, limit=200)
        figures: dict[str, object] = {
            "compare": compare,
            "trend": trend,
            "domains": domains,
            "reasons": stats.failure_reasons(conn, ws),
            "list": campaigns.list_campaigns(conn, ws),
        }
        for cid in [None, *campaign_ids]:
            figures[f"totals {cid}"] = stats.totals(conn, ws, cid)
            figures[f"domains {cid}"] = stats.per_domain(conn, ws, cid, limit=50)
            figures[f"reasons {cid}"] = stats.failure_reasons(conn, ws, cid)
            figures[f"timeline {cid}"] = stats.timeline(conn, ws, cid)
    for which in ("campaigns", "trend", "domains"):
        path = tmp_path / f"{which}.csv"
        analytics_export.write(compare, trend, domains, which, path)
        figures[f"csv {which}"] = path.read_text(encoding="utf-8")
    return figures


def _rows(engine: Engine, table: type[CampaignRecipient] | type[EngagementEvent], cid: int) -> int:
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(table).where(table.campaign_id == cid))
    return int(count or 0)


def test_pruning_keeps_every_figure_and_deletes_only_old_finished_campaigns_rows(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    list_id = seed_contacts(engine, workspace, 53, domains=("a.example", "b.example", "c.org"))
    old = _campaign(engine, workspace, list_id, "Old", NOW - timedelta(days=120))
    recent = _campaign(engine, workspace, list_id, "Recent", NOW - timedelta(days=10))
    running = _campaign(engine, workspace, list_id, "Running", NOW - timedelta(days=200))
    with engine.begin() as conn:
        campaigns.set_state(conn, running, CampaignState.SENDING)
    before = _figures(engine, workspace, [old, recent, running], tmp_path)
    old_totals = before[f"totals {old}"]
    assert isinstance(old_totals, stats.Totals) and old_totals.delivered and old_totals.opened

    steps = 0
    while True:  # batches of 7 rows, each its own transaction, as the app runs them
        with engine.begin() as conn:
            step = retention.prune_step(conn, workspace, NOW, batch=7)
        if step.done:
            break
        steps += 1
        assert _figures(engine, workspace, [old, recent, running], tmp_path) == before
    assert steps > 53 // 7

    assert _rows(engine, CampaignRecipient, old) == 0
    assert _rows(engine, EngagementEvent, old) == 0
    for kept in (recent, running):
        assert _rows(engine, CampaignRecipient, kept) == 53
        assert _rows(engine, EngagementEvent, kept) == 53
    with engine.connect() as conn:
        assert set(retention.pruned_campaigns(conn, workspace)) == {old}
    assert _figures(engine, workspace, [old, recent, running], tmp_path) == before


def test_a_shorter_setting_prunes_more_and_the_setting_is_checked(
    engine: Engine, workspace: int
) -> None:
    list_id = seed_contacts(engine, workspace, 5)
    recent = _campaign(engine, workspace, list_id, "Recent", NOW - timedelta(days=10))
    with engine.begin() as conn:
        assert retention.retention_days(conn, workspace) == 90
        assert retention.prune(conn, workspace, NOW) == 0
        with pytest.raises(retention.RetentionError, match="between 1 and"):
            retention.set_retention_days(conn, workspace, 0)
        retention.set_retention_days(conn, workspace, 7)
        assert retention.prune(conn, workspace, NOW) == 5
        assert retention.pruned_campaigns(conn, workspace).keys() == {recent}


def test_a_contacts_privacy_export_says_what_was_pruned(engine: Engine, workspace: int) -> None:
    list_id = seed_contacts(engine, workspace, 3)
    old = _campaign(engine, workspace, list_id, "Spring sale", NOW - timedelta(days=120))
    recent = _campaign(engine, workspace, list_id, "Winter sale", NOW - timedelta(days=1))
    with engine.begin() as conn:
        contact_id = conn.scalar(select(Contact.id).where(Contact.email == "user0@example.com"))
        assert contact_id is not None
        before = privacy.contact_record(conn, workspace, contact_id)
        assert {c["campaign"] for c in before["campaigns"]} == {"Spring sale", "Winter sale"}
        assert before["pruned"]["campaigns"] == []
        retention.prune(conn, workspace, NOW)
        after = privacy.contact_record(conn, workspace, contact_id)
    assert [c["campaign"] for c in after["campaigns"]] == ["Winter sale"]
    assert [e["campaign_id"] for e in after["engagement"]] == [recent]
    pruned = after["pruned"]
    assert [c["campaign"] for c in pruned["campaigns"]] == ["Spring sale"]
    assert pruned["campaigns"][0]["campaign_id"] == old
    assert "90 days" in pruned["note"]


def test_an_interrupted_pass_resumes_where_it_stopped(engine: Engine, workspace: int) -> None:
    list_id = seed_contacts(engine, workspace, 20)
    old = _campaign(engine, workspace, list_id, "Old", NOW - timedelta(days=120))
    with engine.begin() as conn:
        before = stats.totals(conn, workspace, old)
        first = retention.prune_step(conn, workspace, NOW, batch=4)
    assert first.campaign_id == old and first.recipients == 4
    with engine.begin() as conn:  # the app closed after one step; the next start goes on
        assert retention.prune(conn, workspace, NOW) == 16
        assert stats.totals(conn, workspace, old) == before
        stamp = conn.scalar(select(Campaign.details_pruned_at).where(Campaign.id == old))
    assert stamp is not None


def test_engagement_of_mail_that_was_no_campaigns_goes_after_the_same_days(
    engine: Engine, workspace: int
) -> None:
    seed_contacts(engine, workspace, 2)
    with engine.begin() as conn:
        contacts = conn.scalars(select(Contact.id).order_by(Contact.id)).all()
        conn.execute(
            insert(EngagementEvent),
            [
                {"workspace_id": workspace, "contact_id": c, "campaign_id": 0, "kind": "opened",
                 "occurred_at": NOW - timedelta(days=days)}
                for c, days in zip(contacts, (91, 89), strict=True)
            ],
        )  # fmt: skip
        assert retention.prune(conn, workspace, NOW) == 0
        left = conn.scalars(select(EngagementEvent.contact_id)).all()
    assert left == [contacts[1]]
