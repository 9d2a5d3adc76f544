"""Cancel, pause and resume with an agent that cannot be reached: the command is recorded at
once, the reachable agents take it, the missing one takes it when it is back, and the
campaign's state changes only once every agent acknowledged."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from mailfleet.desktop.agents import fleet as fleet_control
from mailfleet.desktop.agents import upload
from mailfleet.desktop.db.models import CampaignState
from mailfleet.desktop.services import campaigns
from tests.agent.builders import wait_until
from tests.desktop.fleetkit import AgentFactory, Fleet, follow_all, new_fleet
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.smtp import SmtpSink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as one:
        yield one


def _sending(engine: Engine, agent_factory: AgentFactory, sink: SmtpSink) -> Fleet:
    """Two agents sending 60 recipients at 120 a minute each: it takes ~15 s."""
    f = new_fleet(
        engine, agent_factory, sink, 60, agents=("Paris", "Oslo"), throttle_per_minute=240
    )
    upload.upload_campaign(engine, f.ws, f.campaign_id)
    assert f.state() is CampaignState.SENDING
    return f


def _still(sink: SmtpSink, seconds: float = 2.5) -> int:
    """The sink's count, checked unchanged over ``seconds`` (five messages' time for an agent
    still sending at 120 a minute)."""
    before = sink.count
    time.sleep(seconds)
    assert sink.count == before
    return before


def test_cancel_with_an_agent_away_is_cancelling_until_it_is_back_then_cancelled(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    f = _sending(engine, agent_factory, sink)
    followers = follow_all(engine, f.ws, list(f.records.values()))
    try:
        wait_until(lambda: f.totals().delivered >= 4, 60, "first deliveries")
        f.procs["Oslo"].terminate()
        result = fleet_control.control(engine, f.ws, f.campaign_id, "cancel")
        assert result.done == ("Paris",) and [n for n, _ in result.failed] == ["Oslo"]
        assert f.state() is CampaignState.CANCELLING
        row = f.row()
        assert (row.command, row.waiting_for) == ("cancel", ("Oslo",))
        assert campaigns.state_text(row) == "Cancelling — waiting for Oslo"
        assert campaigns.allowed_actions(row.state, row.command) == {"retry"}
        with pytest.raises(campaigns.CampaignError):
            fleet_control.control(engine, f.ws, f.campaign_id, "resume")
        _still(sink)  # Paris took the cancel: nothing more from it, and Oslo is down

        f.procs["Oslo"].start()  # its follower reconnects and gives it the cancel first
        wait_until(lambda: f.state() is CampaignState.CANCELLED, 60, "the cancel on Oslo")
        assert f.row().waiting_for == ()
        sent = _still(sink)
        assert sent < 60 and f.delivered_twice() == []
        wait_until(lambda: f.totals().delivered == sent, 30, "the last deliveries counted")
        figures = f.totals()
        assert figures.queued == 0 and figures.delivered + figures.cancelled == 60
    finally:
        for follower in followers:
            follower.stop()


def test_pause_with_an_agent_away_waits_for_it_then_resume_finishes_once(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    f = _sending(engine, agent_factory, sink)
    followers = follow_all(engine, f.ws, list(f.records.values()))
    try:
        wait_until(lambda: f.totals().delivered >= 4, 60, "first deliveries")
        f.procs["Oslo"].terminate()
        result = fleet_control.control(engine, f.ws, f.campaign_id, "pause")
        assert result.done == ("Paris",)
        row = f.row()
        assert row.state is CampaignState.SENDING  # not every agent took the pause
        assert campaigns.state_text(row) == "Pausing — waiting for Oslo"
        assert {"retry", "resume", "cancel"} == campaigns.allowed_actions(row.state, row.command)
        _still(sink)

        f.procs["Oslo"].start()
        wait_until(lambda: f.state() is CampaignState.PAUSED, 60, "the pause on Oslo")
        paused_at = _still(sink)
        assert paused_at < 60

        fleet_control.control(engine, f.ws, f.campaign_id, "resume")
        assert f.state() is CampaignState.SENDING
        wait_until(lambda: f.state() is CampaignState.COMPLETED, 90, "completion")
        assert sink.count == 60 and f.delivered_twice() == []
        wait_until(lambda: f.totals().delivered == 60, 30, "every delivery counted")
    finally:
        for follower in followers:
            follower.stop()
