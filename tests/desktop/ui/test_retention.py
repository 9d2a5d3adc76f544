"""Retention in the window, on a real campaign through a real agent: the figures are the same
before and after its per-recipient details are pruned, and the drill-down says they were."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from mailfleet.desktop.agents import upload
from mailfleet.desktop.db.models import Campaign, CampaignRecipient, CampaignState, CampaignTimeline
from mailfleet.desktop.services import campaigns, retention, stats
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import ensure_workspace
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import close, open_window, pair, seed_contacts, totals
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink, refuse

AgentFactory = Callable[[str], AgentProcess]
DOMAINS = ("gmail.example.com", "web.example.org")


def _figures(conn: Connection, ws: int, campaign_id: int) -> list[object]:
    """What the dashboard, analytics and the campaign list show of the workspace."""
    return [
        stats.totals(conn, ws, campaign_id),
        stats.totals(conn, ws),
        stats.per_domain(conn, ws, campaign_id),
        stats.per_domain(conn, ws),
        stats.failure_reasons(conn, ws, campaign_id),
        stats.timeline(conn, ws, campaign_id),
        stats.compare(conn, ws),
        stats.daily_trend(conn, ws),
        campaigns.list_campaigns(conn, ws),
    ]


def _age(engine: Engine, campaign_id: int, days: int) -> None:
    """Let ``days`` pass for the campaign: its events and its creation move back in time."""
    shift = timedelta(days=days)
    t = CampaignTimeline
    with engine.begin() as conn:
        rows = conn.execute(
            select(t.minute, t.kind, t.count).where(t.campaign_id == campaign_id)
        ).all()
        conn.execute(delete(t).where(t.campaign_id == campaign_id))
        conn.execute(
            insert(t),
            [{"campaign_id": campaign_id, "minute": m - shift, "kind": k, "count": n}
             for m, k, n in rows],
        )  # fmt: skip
        created = conn.scalar(select(Campaign.created_at).where(Campaign.id == campaign_id))
        assert created is not None and rows
        conn.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(created_at=created - shift)
        )


def test_a_sent_campaigns_figures_survive_pruning_and_its_recipients_say_pruned(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 20, DOMAINS)
    with SmtpSink() as sink:
        for n in (3, 8):
            sink.rules[f"user{n}@{DOMAINS[n % 2]}"] = refuse()
        record = pair(engine, ws, agent_factory(relay_config(sink)), "Paris")
        draft = Draft(name="Spring news", audience=Audience(lists=(list_id,)), subject="Hi",
                      text="Hello", from_address="news@shop.example.com",
                      agents=((record.id, 1),))  # fmt: skip
        campaign_id = campaigns.create(engine, ws, draft)
        upload.upload_campaign(engine, ws, campaign_id)
        window = open_window(qtbot, engine, ws, qsettings, tmp_path)

        def finished() -> bool:
            with engine.connect() as conn:
                state = campaigns.get(conn, ws, campaign_id).state
            return state == CampaignState.COMPLETED.value

        qtbot.waitUntil(finished, timeout=60_000)
        figures = totals(engine, ws, campaign_id)
        assert (figures.delivered, figures.bounced) == (18, 2)

    window.dashboard.show_campaign(campaign_id)
    # The page re-reads its campaigns by itself too: wait until the list shows this one.
    qtbot.waitUntil(
        lambda: (
            window.dashboard.recipients_button.isEnabled()
            and window.dashboard.campaign.currentData() == campaign_id
        )
    )
    listed = window.dashboard.open_recipients()
    assert listed is not None
    qtbot.addWidget(listed)
    qtbot.waitUntil(lambda: listed.message.text() == "20 recipients.")
    listed.status.setCurrentIndex(listed.status.findText("Bounced"))
    qtbot.waitUntil(lambda: listed.table.rowCount() == 2)
    assert {listed.table.item(r, 0).text() for r in range(2)} == {  # type: ignore[union-attr]
        "user3@web.example.org",
        "user8@gmail.example.com",
    }
    listed.grab().save(str(artifacts / "recipients-bounced.png"))
    listed.close()

    _age(engine, campaign_id, 100)  # the campaign's last event is now 100 days old
    with engine.connect() as conn:
        before = _figures(conn, ws, campaign_id)
    assert window.retention.running is False
    window.retention.run()
    qtbot.waitUntil(lambda: not window.retention.running, timeout=30_000)

    with engine.connect() as conn:
        assert campaign_id in retention.pruned_campaigns(conn, ws)
        held = conn.scalar(select(func.count()).select_from(CampaignRecipient))
        assert held == 0
        assert _figures(conn, ws, campaign_id) == before
    reasons = before[4]
    assert isinstance(reasons, list) and reasons and reasons[0].count == 2

    window.go("Dashboard")
    window.dashboard.refresh()
    qtbot.waitUntil(lambda: "were deleted on" in window.dashboard.reasons.text())
    assert window.dashboard.tiles["delivered"].text() == "18"
    assert window.dashboard.tiles["bounced"].text() == "2"
    assert "Bounced (2)" in window.dashboard.reasons.text()
    qtbot.wait(300)
    window.grab().save(str(artifacts / "dashboard-pruned.png"))

    qtbot.waitUntil(lambda: window.dashboard.campaign.currentData() == campaign_id)
    dialog = window.dashboard.open_recipients()
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "were deleted on" in dialog.message.text())
    assert dialog.table.rowCount() == 0 and "figures are kept" in dialog.message.text()
    qtbot.wait(200)
    dialog.grab().save(str(artifacts / "recipients-pruned.png"))
    close(qtbot, window)


def test_the_settings_page_changes_how_long_details_are_kept(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
    window.go("Settings")
    setting = window.retention_setting
    qtbot.waitUntil(lambda: setting.days.isEnabled())
    assert setting.days.value() == 90
    setting.days.setValue(30)
    setting.save_button.click()
    qtbot.waitUntil(lambda: "kept 30 days" in setting.saved.text())
    with sqlite_engine.connect() as conn:
        assert retention.retention_days(conn, ws) == 30
    window.grab().save(str(artifacts / "settings-retention.png"))
    close(qtbot, window)
