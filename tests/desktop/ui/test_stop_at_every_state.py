"""The agent stopped (SIGTERM) or killed (SIGKILL) at each state a campaign passes through,
then brought back: the campaign finishes exactly once — every recipient delivered once at
the sink, or, once cancelled, nobody more — and the dashboard's counts match the sink.

A kill -9 while messages are in flight may repeat those (the agent promises at most its
in-flight window, tests/agent/delivery/test_crash.py), so the states with mail in flight stop
the agent cleanly and the quiet states (paused, completed, cancelled) kill it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.db.models import CampaignState
from mailfleet.desktop.ui.main_window import MainWindow
from tests.desktop.fleetkit import (
    AgentFactory,
    Fleet,
    answer,
    close,
    new_fleet,
    open_window,
    select_campaign,
    state_cell,
    tile,
)
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.smtp import SmtpSink

RECIPIENTS = 30
LONG = 90_000  # ms: an agent coming back, its follower's back-off, then the rest at 2 a second


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as one:
        yield one


class Scene:
    """The window on a campaign of 30 recipients through one agent at 120 a minute."""

    def __init__(self, qtbot: QtBot, f: Fleet, window: MainWindow) -> None:
        self.qtbot, self.f, self.window = qtbot, f, window
        self.proc = f.procs["Paris"]
        self.board = window.dashboard

    def until(self, state: CampaignState, timeout: int = LONG) -> None:
        self.qtbot.waitUntil(lambda: self.f.state() is state, timeout=timeout)

    def sending_some(self) -> None:
        self.until(CampaignState.SENDING)
        self.qtbot.waitUntil(lambda: self.f.sink.count >= 3, timeout=60_000)

    def press(self, action: str) -> None:
        button = {"pause": self.board.pause_button, "resume": self.board.resume_button}[action]
        self.qtbot.waitUntil(button.isEnabled, timeout=15_000)
        button.click()

    def cancel(self) -> None:
        self.qtbot.waitUntil(self.board.cancel_button.isEnabled, timeout=15_000)
        before = self.window.campaigns.confirm
        self.board.cancel_button.click()
        self.qtbot.waitUntil(lambda: self.window.campaigns.confirm is not before)
        answer(self.window.campaigns.confirm, "Cancel campaign")

    def quiet(self) -> int:
        """The sink's count, unchanged over 2.5 s (five messages' time at 120 a minute)."""
        before = self.f.sink.count
        self.qtbot.wait(2500)
        assert self.f.sink.count == before
        return before

    def finished_once(self, sent: int) -> None:
        """``sent`` messages reached the sink, each recipient once, and the dashboard says so."""
        assert self.f.sink.count == sent and self.f.delivered_twice() == []
        self.qtbot.waitUntil(lambda: tile(self.window, "delivered") == sent, timeout=30_000)
        self.qtbot.waitUntil(lambda: tile(self.window, "queued") == 0, timeout=30_000)
        assert tile(self.window, "failed") == tile(self.window, "bounced") == 0
        figures = self.board.figures
        assert figures is not None
        # Everyone else was cancelled: nobody is left waiting or unaccounted for.
        assert figures.totals.delivered + figures.totals.cancelled == RECIPIENTS


def _open(qtbot: QtBot, f: Fleet, qsettings: Any, tmp_path: Path) -> Scene:
    window = open_window(qtbot, f.engine, f.ws, qsettings, tmp_path)  # resumes the upload
    window.dashboard.show_campaign(f.campaign_id)
    window.go("Dashboard")
    return Scene(qtbot, f, window)


STATES = ("uploading", "sending", "paused", "sending-again", "completed", "cancelling", "cancelled")


@pytest.mark.parametrize("state", STATES)
def test_the_agent_stopped_at_each_state_and_back_the_campaign_finishes_exactly_once(
    state: str,
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    f = new_fleet(sqlite_engine, agent_factory, sink, RECIPIENTS, name="Spring",
                  throttle_per_minute=120)  # fmt: skip
    if state == "uploading":
        f.procs["Paris"].terminate()  # down when the upload starts
    s = _open(qtbot, f, qsettings, tmp_path)
    cancelled = state in ("cancelling", "cancelled")
    if state == "uploading":
        qtbot.waitUntil(lambda: f.campaign_id in s.window.campaigns.stalled, timeout=60_000)
        assert f.state() is CampaignState.UPLOADING and sink.count == 0
        s.proc.start()
    elif state == "sending":
        s.sending_some()
        s.proc.terminate()
        s.proc.start()
    elif state in ("paused", "sending-again"):
        s.sending_some()
        s.press("pause")
        s.until(CampaignState.PAUSED, 15_000)
        if state == "paused":
            s.quiet()
            s.proc.kill()
            s.proc.start()
            s.quiet()  # back, and still paused
            assert f.state() is CampaignState.PAUSED
        s.press("resume")
        s.until(CampaignState.SENDING, 15_000)
        if state == "sending-again":
            qtbot.waitUntil(lambda: sink.count < RECIPIENTS and sink.count >= 5, timeout=30_000)
            s.proc.terminate()
            s.proc.start()
    elif state == "completed":
        s.until(CampaignState.COMPLETED)
        s.proc.kill()
        s.proc.start()
        s.quiet()
        assert f.state() is CampaignState.COMPLETED
    elif state == "cancelling":
        s.sending_some()
        s.proc.terminate()
        s.cancel()
        s.until(CampaignState.CANCELLING, 15_000)
        waiting = s.board.waiting
        qtbot.waitUntil(lambda: waiting.isVisibleTo(s.window), timeout=15_000)
        assert "Waiting for Paris" in waiting.text() and "cancel" in waiting.text()
        assert s.board.retry_button.isEnabled() and not s.board.resume_button.isEnabled()
        s.window.grab().save(str(artifacts / "dashboard-cancelling.png"))
        s.window.go("Campaigns")
        qtbot.waitUntil(lambda: state_cell(s.window) == "Cancelling — waiting for Paris")
        select_campaign(s.window, f.campaign_id)
        assert s.window.campaigns.retry_button.isEnabled()
        assert s.window.campaigns.retry_button.text() == "Retry cancel"
        s.window.grab().save(str(artifacts / "campaigns-cancelling.png"))
        s.window.go("Dashboard")
        s.proc.start()
        # Retry gives it the cancel now, rather than at its follower's next try.
        qtbot.waitUntil(s.board.retry_button.isEnabled, timeout=15_000)
        s.board.retry_button.click()
    elif state == "cancelled":
        s.sending_some()
        s.cancel()
        s.until(CampaignState.CANCELLED, 15_000)
        sent = s.quiet()
        s.proc.kill()
        s.proc.start()
        assert s.quiet() == sent

    s.until(CampaignState.CANCELLED if cancelled else CampaignState.COMPLETED)
    sent = s.quiet() if cancelled else RECIPIENTS
    assert sent < RECIPIENTS or not cancelled
    s.finished_once(sent)
    assert not s.board.waiting.isVisibleTo(s.window)
    close(qtbot, s.window)
    assert sink.count == sent
