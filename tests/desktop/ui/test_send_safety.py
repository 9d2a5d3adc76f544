"""Send safety against real agents: a campaign's state follows what its agents acknowledged,
and an upload an agent missed finishes, exactly once, when the agent is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.agents import fleet
from mailfleet.desktop.db.models import CampaignState
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.reasons import UNKNOWN_ADDRESS
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.campaign_wizard import CampaignWizard
from mailfleet.desktop.ui.qt import Qt, QWizard
from mailfleet.v1 import capture_pb2
from tests.desktop.fleetkit import (
    AgentFactory,
    answer,
    close,
    new_fleet,
    open_window,
    pair,
    seed_contacts,
    select_campaign,
    state_cell,
    state_of,
    tile,
)
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink, refuse


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as one:
        yield one


def test_an_upload_the_agent_missed_is_not_sending_and_finishes_once_when_it_returns(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    f = new_fleet(engine, agent_factory, sink, 12)
    ws, campaign_id, proc = f.ws, f.campaign_id, f.procs["Paris"]
    proc.terminate()  # the agent is down when the marketer presses Send
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: len(window.agents.records) == 1)
    window.go("Campaigns")
    page = window.campaigns
    page.upload(campaign_id)  # what the wizard's Send does once the campaign is saved
    qtbot.waitUntil(lambda: campaign_id in page.stalled and not page.uploading, timeout=60_000)
    assert "Paris could not be reached" in page.message.text()
    assert "Errno" not in page.message.text()
    qtbot.waitUntil(lambda: state_cell(window) == "waiting for Paris")
    select_campaign(window, campaign_id)
    assert page.retry_button.isEnabled() and page.cancel_button.isEnabled()
    assert not page.resume_button.isEnabled() and not page.pause_button.isEnabled()
    window.grab().save(str(artifacts / "campaigns-waiting-for-agent.png"))

    # Resume means nothing for a campaign no agent holds: refused, and the state stays put.
    with pytest.raises(campaigns.CampaignError):
        fleet.control(engine, ws, campaign_id, "resume")
    page.retry_button.click()
    qtbot.waitUntil(lambda: not page.uploading, timeout=60_000)
    assert state_of(engine, ws, campaign_id) is CampaignState.UPLOADING
    assert sink.count == 0

    proc.start()  # the agent is back: the upload resumes by itself
    qtbot.waitUntil(lambda: state_of(engine, ws, campaign_id) is CampaignState.COMPLETED,
                    timeout=90_000)  # fmt: skip
    assert sink.count == 12 and sink.duplicates() == []
    qtbot.waitUntil(lambda: state_cell(window) == "completed", timeout=10_000)
    select_campaign(window, campaign_id)
    assert not any(b.isEnabled() for b in page.action_buttons.values())
    close(qtbot, window)
    assert sink.count == 12


def test_a_campaign_marked_sending_that_no_agent_holds_is_uploaded_at_start(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    engine = sqlite_engine
    f = new_fleet(engine, agent_factory, sink, 5, name="Stuck")
    ws, campaign_id = f.ws, f.campaign_id
    with engine.begin() as conn:  # what an older version's Resume left behind
        campaigns.set_state(conn, campaign_id, CampaignState.SENDING)
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: state_of(engine, ws, campaign_id) is CampaignState.COMPLETED,
                    timeout=60_000)  # fmt: skip
    assert sink.count == 5 and sink.duplicates() == []
    close(qtbot, window)


def fill_wizard(qtbot: QtBot, wizard: CampaignWizard, recipients: int) -> None:
    """Choose the first list, write a message and go to the review page."""
    qtbot.addWidget(wizard)
    audience = wizard.audience_page
    qtbot.waitUntil(lambda: audience.choices.count() > 0)
    audience.choices.item(0).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: audience.recipients == recipients)
    wizard.next()
    wizard.content_page.subject.setText("Spring news")
    wizard.content_page.html.setPlainText("<p>Hi</p><a href='{{ unsubscribe_url }}'>Leave</a>")
    wizard.next()
    wizard.sender_page.from_name.setText("The Shop")
    wizard.sender_page.from_address.setText("news@shop.example.com")
    wizard.next()
    wizard.next()
    qtbot.waitUntil(lambda: "All checks passed" in wizard.review_page.checks.text())


def captured(proc: AgentProcess) -> int:
    reply = proc.stubs().capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=1000))
    return len(reply.messages)


def test_send_says_what_will_happen_and_asks_once(
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
    seed_contacts(engine, ws, 7)
    proc = agent_factory("")  # a new agent: its default route is the capture mailbox
    pair(engine, ws, proc, "This computer")
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: window.agents.status.get(next(iter(window.agents.status), -1))
                    is not None, timeout=15_000)  # fmt: skip
    window.go("Campaigns")
    wizard = window.campaigns.new_campaign()
    assert wizard is not None
    fill_wizard(qtbot, wizard, 7)
    review = wizard.review_page
    qtbot.waitUntil(lambda: review.modes is not None, timeout=15_000)
    assert "nothing leaves this machine" in review.delivery.text()
    wizard.grab().save(str(artifacts / "wizard-5-review-capture.png"))

    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: wizard.confirm is not None and wizard.confirm.isVisible())
    assert wizard.confirm is not None
    text = wizard.confirm.text() + "\n" + wizard.confirm.informativeText()
    for expected in ("7 recipients", "This computer", "The Shop <news@shop.example.com>",
                     "Spring news", "Start: now", "nothing leaves this machine",
                     "shop.example.com is not signed"):  # fmt: skip
        assert expected in text, expected
    wizard.confirm.grab().save(str(artifacts / "send-confirmation.png"))
    answer(wizard.confirm, "Go back")  # nothing is saved or sent
    qtbot.wait(300)
    with engine.connect() as conn:
        assert campaigns.list_campaigns(conn, ws) == []
    assert wizard.isVisible()

    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: wizard.confirm is not None and wizard.confirm.isVisible())
    answer(wizard.confirm, "Send")
    qtbot.waitUntil(lambda: captured(proc) == 7, timeout=60_000)
    with engine.connect() as conn:
        (row,) = campaigns.list_campaigns(conn, ws)

    # Captured mail is shown apart from delivered, with what it means.
    window.dashboard.show_campaign(row.id)
    window.go("Dashboard")
    qtbot.waitUntil(lambda: tile(window, "captured") == 7, timeout=30_000)
    assert tile(window, "delivered") == 0
    note = window.dashboard.captured_note
    assert note.isVisibleTo(window) and "7 captured — nothing left this machine" in note.text()
    qtbot.wait(300)
    window.grab().save(str(artifacts / "dashboard-captured.png"))
    close(qtbot, window)


def test_cancel_asks_says_what_it_stops_and_a_cancelled_campaign_takes_no_command(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    f = new_fleet(engine, agent_factory, sink, 40, name="Slow", throttle_per_minute=60)
    ws, campaign_id = f.ws, f.campaign_id
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)  # resumes the upload
    window.dashboard.show_campaign(campaign_id)
    window.go("Dashboard")
    board = window.dashboard
    qtbot.waitUntil(lambda: state_of(engine, ws, campaign_id) is CampaignState.SENDING,
                    timeout=60_000)  # fmt: skip
    qtbot.waitUntil(board.pause_button.isEnabled, timeout=10_000)
    assert board.cancel_button.isEnabled() and not board.resume_button.isEnabled()
    # Cancel keeps its distance from Resume.
    assert board.cancel_button.x() - board.resume_button.geometry().right() >= 40

    board.cancel_button.click()
    box = window.campaigns.confirm
    qtbot.waitUntil(lambda: box is not None and box.isVisible())
    assert box is not None
    assert "Cancel “Slow”?" in box.text()
    assert "never will" in box.informativeText() and "stay sent" in box.informativeText()
    box.grab().save(str(artifacts / "cancel-confirmation.png"))
    answer(box, "Keep it")
    qtbot.wait(500)
    assert state_of(engine, ws, campaign_id) is CampaignState.SENDING

    board.cancel_button.click()
    qtbot.waitUntil(lambda: window.campaigns.confirm is not box)
    answer(window.campaigns.confirm, "Cancel campaign")
    qtbot.waitUntil(lambda: state_of(engine, ws, campaign_id) is CampaignState.CANCELLED,
                    timeout=15_000)  # fmt: skip
    qtbot.waitUntil(lambda: not board.cancel_button.isEnabled(), timeout=10_000)
    assert not board.pause_button.isEnabled() and not board.resume_button.isEnabled()
    window.grab().save(str(artifacts / "dashboard-cancelled.png"))
    sent = sink.count
    assert sent < 40
    qtbot.wait(2500)  # at 60 a minute, one more message would have gone by now
    assert sink.count == sent
    close(qtbot, window)


def test_recipients_that_did_not_arrive_are_counted_with_the_agents_reason(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    for n in (1, 4):
        sink.rule(f"user{n}@example.com", refuse("550 5.1.1 No such mailbox here"))
    f = new_fleet(engine, agent_factory, sink, 6, name="Bounces")
    ws, campaign_id = f.ws, f.campaign_id
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)  # resumes the upload
    window.dashboard.show_campaign(campaign_id)
    window.go("Dashboard")
    qtbot.waitUntil(lambda: tile(window, "bounced") == 2, timeout=60_000)
    qtbot.waitUntil(lambda: tile(window, "delivered") == 4, timeout=30_000)
    reasons = window.dashboard.reasons
    assert reasons.isVisibleTo(window)
    # In plain words; the server's own reply is kept in the tooltip.
    assert "Bounced (2): The address does not exist at that provider." in reasons.text()
    assert "Bounced (2): 550 5.1.1 No such mailbox here" in reasons.toolTip()
    assert tile(window, "captured") == 0 and not window.dashboard.captured_note.isVisibleTo(window)
    qtbot.wait(300)
    window.grab().save(str(artifacts / "dashboard-reasons.png"))
    window.go("Analytics")
    table = window.analytics.compare
    qtbot.waitUntil(lambda: table.rowCount() == 1 and table.item(0, 4) is not None,
                    timeout=15_000)  # fmt: skip
    header = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]  # type: ignore[union-attr]
    cells = {h: table.item(0, c).text() for c, h in enumerate(header)}  # type: ignore[union-attr]
    assert (cells["Delivered"], cells["Captured"], cells["Failed"]) == ("4", "0", "0")
    why = window.analytics.reasons
    qtbot.waitUntil(lambda: why.rowCount() == 1 and why.item(0, 3) is not None, timeout=15_000)
    shown = tuple(why.item(0, c).text() for c in range(4))  # type: ignore[union-attr]
    assert shown == ("Bounced", UNKNOWN_ADDRESS, "2", "550 5.1.1 No such mailbox here")
    assert "No such mailbox here (2)" in why.item(0, 1).toolTip()  # type: ignore[union-attr]
    window.analytics.tabs.setCurrentWidget(why)
    qtbot.wait(300)
    window.grab().save(str(artifacts / "analytics-reasons.png"))
    close(qtbot, window)
