"""A campaign with a send window, made in the wizard, against a real agent whose clock the
test moves (never sleeps through): the review estimates the finish inside the window, the
agent sends nothing on a Saturday or on a Monday evening and everything on Monday morning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.agents import upload
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.qt import QDateTime, QTimeZone, QWizard
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import (
    close,
    draft,
    open_window,
    pair,
    seed_contacts,
    send_wizard,
    start_wizard,
)
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.clicks import subject
from tests.peers.clock import coming, move_clock
from tests.peers.smtp import SmtpSink


def test_a_windowed_campaign_from_the_wizard_sends_only_inside_its_window(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: Callable[[str], AgentProcess],
    clock_file: Path,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with SmtpSink() as sink:
        with sqlite_engine.begin() as conn:
            ws = ensure_workspace(conn)
        list_id = seed_contacts(sqlite_engine, ws, 5)
        record = pair(sqlite_engine, ws, agent_factory(relay_config(sink)), "Paris")
        move_clock(clock_file, coming(6, 12))  # a Saturday noon
        window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
        qtbot.waitUntil(lambda: len(window.agents.records) == 1)
        wizard = start_wizard(qtbot, window, 5, "Windowed", "<p>Hi {{ first_name }}</p>")
        wizard.next()
        wizard.sender_page.from_address.setText("news@shop.example.com")
        wizard.next()
        delivery = wizard.delivery_page
        assert wizard.currentPage() is delivery  # no A/B test ticked: its page is skipped
        delivery.zone.setCurrentText("Europe/Berlin")
        box = delivery.window_box
        box.enabled.setChecked(True)
        box.days[0].setChecked(False)  # no day: the agents would refuse it
        for day in box.days[1:5]:
            day.setChecked(False)
        assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        assert "Choose at least one day to send on" in delivery.window_problem.text()
        for day in box.days[:5]:
            day.setChecked(True)
        assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        # The estimate: 5 messages at 60 a minute, started on a Saturday, end on Monday
        # at 08:00:05 in Berlin.
        delivery.throttle.setValue(60)
        delivery.later.setChecked(True)
        saturday = coming(6, 12)
        start = QDateTime.fromSecsSinceEpoch(int(saturday.timestamp()), QTimeZone(b"Europe/Berlin"))
        delivery.start.setDate(start.date())
        delivery.start.setTime(start.time())
        wizard.grab().save(str(artifacts / "wizard-send-window.png"))
        wizard.next()
        summary = wizard.review_page.summary.text()
        assert "Send window: weekdays 08:00-20:00 (Europe/Berlin)." in summary
        monday = saturday + timedelta(days=2, hours=-4, seconds=5)
        assert f"Estimated finish: around {dates.show(monday)}." in summary
        wizard.back()
        delivery.later.setChecked(False)  # sent now: the agent's moved clock decides
        wizard.next()
        send_wizard(qtbot, wizard)
        qtbot.waitUntil(lambda: "Uploaded" in window.campaigns.message.text())
        close(qtbot, window)

        # A campaign without a window, uploaded after it, is sent meanwhile: the agent passed
        # over the windowed one.
        plain = campaigns.create(
            sqlite_engine, ws, draft(list_id, ((record.id, 1),), name="Plain", subject="Plain")
        )
        upload.upload_campaign(sqlite_engine, ws, plain)
        sink.wait_for(5, timeout=60)
        move_clock(clock_file, coming(1, 20, 30))  # a Monday, after 20:00
        second = campaigns.create(
            sqlite_engine, ws, draft(list_id, ((record.id, 1),), name="Later", subject="Later")
        )
        upload.upload_campaign(sqlite_engine, ws, second)
        sink.wait_for(10, timeout=60)
        assert {subject(r) for r in sink.received} == {"Plain", "Later"}

        move_clock(clock_file, coming(1, 9))  # a Monday at 09:00
        sink.wait_for(15, timeout=60)
        assert [subject(r) for r in sink.received[10:]] == ["Windowed"] * 5
