"""The campaign screens against real agents: the wizard, the background upload, the live
dashboard matching the sinks, pause and resume, and a desktop restart mid-campaign."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.campaign_wizard import NO_LIMIT
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import Qt, QWizard
from mailfleet.v1 import campaigns_pb2
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import close, open_window, pair, seed_contacts, totals
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink, defer

AgentFactory = Callable[[str], AgentProcess]
DOMAINS = ("gmail.example.com", "outlook.example.com", "web.example.org")


@pytest.fixture
def sinks() -> Iterator[tuple[SmtpSink, SmtpSink]]:
    with SmtpSink() as one, SmtpSink() as two:
        yield one, two


def tile(window: MainWindow, name: str) -> int:
    return int(window.dashboard.tiles[name].text().replace(",", ""))


def test_the_wizard_sends_through_two_agents_and_the_dashboard_matches_the_sinks(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    seed_contacts(sqlite_engine, ws, 60, DOMAINS)
    pair(sqlite_engine, ws, agent_factory(relay_config(sinks[0])), "Paris")
    pair(sqlite_engine, ws, agent_factory(relay_config(sinks[1])), "Frankfurt")
    window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: len(window.agents.records) == 2)
    window.go("Campaigns")
    wizard = window.campaigns.new_campaign()
    assert wizard is not None
    qtbot.addWidget(wizard)

    audience = wizard.audience_page
    qtbot.waitUntil(lambda: audience.choices.count() > 0)
    audience.choices.item(0).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: audience.recipients == 60)
    wizard.grab().save(str(artifacts / "wizard-1-audience.png"))
    wizard.next()
    wizard.content_page.subject.setText("Spring news for {{ first_name }}")
    wizard.content_page.html.setPlainText(
        "<p>Hello {{ first_name }} from {{ city }}</p><a href='https://x.example/unsubscribe'>"
        "Unsubscribe</a>"
    )
    wizard.grab().save(str(artifacts / "wizard-2-content.png"))
    wizard.next()
    wizard.sender_page.from_name.setText("The Shop")
    wizard.sender_page.from_address.setText("news@shop.example.com")
    assert "shop.example.com" in wizard.sender_page.domain.text()
    wizard.grab().save(str(artifacts / "wizard-3-sender.png"))
    wizard.next()
    wizard.delivery_page.weights[0].setValue(2)  # Frankfurt (by name) takes two shares
    # The start time is read in the user's own zone unless they choose another.
    assert wizard.delivery_page.zone.currentText() == dates.local_zone_id()
    assert wizard.delivery_page.throttle.text() == NO_LIMIT
    wizard.grab().save(str(artifacts / "wizard-4-delivery.png"))
    wizard.next()
    summary = wizard.review_page.summary.text()
    assert "<b>60</b> recipients" in summary and "Frankfurt 40" in summary
    assert "Paris 20" in summary
    assert f"Throttle: {NO_LIMIT}." in summary
    qtbot.waitUntil(lambda: "All checks passed" in wizard.review_page.checks.text())
    wizard.grab().save(str(artifacts / "wizard-5-review.png"))
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: wizard.confirm is not None and wizard.confirm.isVisible())
    assert wizard.confirm is not None
    next(b for b in wizard.confirm.buttons() if b.text() == "Send").click()

    qtbot.waitUntil(lambda: "Uploaded" in window.campaigns.message.text(), timeout=30_000)
    sinks[1].wait_for(40, timeout=60)
    sinks[0].wait_for(20, timeout=60)
    campaign_id = window.campaigns.rows[0].id
    window.dashboard.show_campaign(campaign_id)
    window.go("Dashboard")
    qtbot.waitUntil(lambda: tile(window, "delivered") == 60, timeout=30_000)
    assert sinks[0].count + sinks[1].count == 60
    assert sinks[0].duplicates() == [] and sinks[1].duplicates() == []
    assert tile(window, "queued") == 0 and tile(window, "bounced") == 0
    table = window.dashboard.domains
    domains = {table.item(r, 0).text(): table.item(r, 2).text()  # type: ignore[union-attr]
               for r in range(table.rowCount())}  # fmt: skip
    assert domains == {"gmail.example.com": "20", "outlook.example.com": "20",
                       "web.example.org": "20"}  # fmt: skip
    assert window.dashboard.chart.series()
    qtbot.wait(300)
    window.grab().save(str(artifacts / "dashboard.png"))
    window.go("Campaigns")
    qtbot.waitUntil(lambda: window.campaigns.rows[0].state.value == "completed", timeout=30_000)
    window.grab().save(str(artifacts / "campaigns.png"))
    close(qtbot, window)


def test_pause_resume_and_a_restart_mid_campaign_catch_up_exactly(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(sqlite_engine, ws, 30)
    proc = agent_factory(relay_config(sinks[0]))
    record = pair(sqlite_engine, ws, proc, "Paris")
    draft = Draft(name="Slow", audience=Audience(lists=(list_id,)), subject="Hi",
                  text="Hello {{ first_name }}", from_address="news@shop.example.com",
                  throttle_per_minute=120, agents=((record.id, 1),))  # fmt: skip
    campaign_id = campaigns.create(sqlite_engine, ws, draft)
    window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)  # resumes the upload
    window.dashboard.show_campaign(campaign_id)
    qtbot.waitUntil(lambda: tile(window, "delivered") >= 2, timeout=60_000)

    stubs = proc.stubs()
    qtbot.waitUntil(window.dashboard.pause_button.isEnabled)
    window.dashboard.pause_button.click()
    qtbot.waitUntil(lambda: _remote_state(stubs, sqlite_engine, ws, campaign_id)
                    == campaigns_pb2.CAMPAIGN_STATE_PAUSED, timeout=15_000)  # fmt: skip
    qtbot.waitUntil(window.dashboard.resume_button.isEnabled)
    window.dashboard.resume_button.click()
    qtbot.waitUntil(lambda: _remote_state(stubs, sqlite_engine, ws, campaign_id)
                    == campaigns_pb2.CAMPAIGN_STATE_RUNNING, timeout=15_000)  # fmt: skip

    close(qtbot, window)  # the marketer closes the laptop mid-campaign
    seen = totals(sqlite_engine, ws, campaign_id).delivered
    assert seen < 30
    sinks[0].wait_for(30, timeout=90)
    assert totals(sqlite_engine, ws, campaign_id).delivered == seen

    again = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
    again.dashboard.show_campaign(campaign_id)
    qtbot.waitUntil(lambda: tile(again, "delivered") == 30, timeout=30_000)
    assert sinks[0].count == 30 and sinks[0].duplicates() == []
    assert totals(sqlite_engine, ws, campaign_id).delivered == 30
    close(qtbot, again)


def _remote_state(stubs: Any, engine: Engine, ws: int, campaign_id: int) -> int:
    with engine.connect() as conn:
        (part,) = campaigns.parts(conn, campaign_id)
    reply = stubs.campaigns.GetCampaign(
        campaigns_pb2.CampaignRef(campaign_id=part.agent_campaign_id or 0)
    )
    return int(reply.state)


def test_an_agent_unreachable_past_the_threshold_can_hand_its_recipients_over(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(sqlite_engine, ws, 20)
    healthy = pair(sqlite_engine, ws, agent_factory(relay_config(sinks[0])), "Healthy")
    failing_proc = agent_factory(relay_config(sinks[1], "retry_base_seconds = 600"))
    failing = pair(sqlite_engine, ws, failing_proc, "Failing")
    draft = Draft(name="Handover", audience=Audience(lists=(list_id,)), subject="Hi",
                  text="Hello", from_address="news@shop.example.com",
                  agents=((healthy.id, 1), (failing.id, 1)))  # fmt: skip
    campaign_id = campaigns.create(sqlite_engine, ws, draft)
    for n in range(20):
        sinks[1].rule(f"user{n}@example.com", defer())  # the failing agent's destination
    window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)  # resumes the upload
    window.campaigns.move_after = 1.0
    window.dashboard.show_campaign(campaign_id)
    qtbot.waitUntil(lambda: tile(window, "delivered") == 10, timeout=60_000)
    qtbot.waitUntil(lambda: tile(window, "deferred") == 10, timeout=60_000)
    assert not window.campaigns.move_box.isVisibleTo(window.campaigns)

    failing_proc.kill()
    window.agents.poll()
    qtbot.waitUntil(lambda: failing.id in window.agents.unreachable_since, timeout=15_000)
    window.go("Campaigns")
    qtbot.waitUntil(lambda: window.campaigns.move_box.isVisibleTo(window.campaigns),
                    timeout=10_000)  # fmt: skip
    assert window.campaigns.move_from.currentData() == failing.id
    window.campaigns.table.selectRow(0)
    window.grab().save(str(artifacts / "campaigns-move-unsent.png"))
    window.campaigns.move_button.click()
    qtbot.waitUntil(lambda: "Moved 10 unsent recipients" in window.campaigns.message.text())
    sinks[0].wait_for(20, timeout=60)
    qtbot.waitUntil(lambda: tile(window, "delivered") == 20, timeout=30_000)
    delivered = [r for m in sinks[0].received for r in m.rcpt_to]
    assert len(set(delivered)) == 20 and sinks[1].count == 0
    close(qtbot, window)
