"""Send safety against real agents: a campaign's state follows what its agents acknowledged,
and an upload an agent missed finishes, exactly once, when the agent is back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from desktop.agents import fleet
from desktop.db.models import CampaignState
from desktop.services import campaigns
from desktop.services.campaigns import Audience, Draft
from desktop.services.workspaces import ensure_workspace
from desktop.ui.main_window import MainWindow
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import close, open_window, pair, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as one:
        yield one


def state_of(engine: Engine, ws: int, campaign_id: int) -> CampaignState:
    with engine.connect() as conn:
        return CampaignState(campaigns.get(conn, ws, campaign_id).state)


def select_campaign(window: MainWindow, campaign_id: int) -> None:
    page = window.campaigns
    row = next(i for i, r in enumerate(page.rows) if r.id == campaign_id)
    page.table.selectRow(row)


def state_cell(window: MainWindow) -> str:
    item = window.campaigns.table.item(0, 1)
    return item.text() if item is not None else ""


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
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 12)
    proc = agent_factory(relay_config(sink))
    record = pair(engine, ws, proc, "Paris")
    proc.terminate()  # the agent is down when the marketer presses Send
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: len(window.agents.records) == 1)
    draft = Draft(name="Spring", audience=Audience(lists=(list_id,)), subject="Hi",
                  text="Hello {{ first_name }}", from_address="news@shop.example.com",
                  agents=((record.id, 1),))  # fmt: skip
    campaign_id = campaigns.create(engine, ws, draft)
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
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 5)
    record = pair(engine, ws, agent_factory(relay_config(sink)), "Paris")
    draft = Draft(name="Stuck", audience=Audience(lists=(list_id,)), subject="Hi",
                  text="Hello", from_address="news@shop.example.com",
                  agents=((record.id, 1),))  # fmt: skip
    campaign_id = campaigns.create(engine, ws, draft)
    with engine.begin() as conn:  # what an older version's Resume left behind
        campaigns.set_state(conn, campaign_id, CampaignState.SENDING)
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: state_of(engine, ws, campaign_id) is CampaignState.COMPLETED,
                    timeout=60_000)  # fmt: skip
    assert sink.count == 5 and sink.duplicates() == []
    close(qtbot, window)
