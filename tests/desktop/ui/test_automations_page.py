"""The Automations page against a real agent delivering to a real SMTP sink, its automations'
clock moved by the test (MAILFLEET_TEST_CLOCK): a welcome series built in the designer,
activated, an app's event enrolling a contact, the per-step counts shown; pause stops new
entries; an edit is version 2 while the contact already in it finishes on version 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services import templates
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.automations_page import AutomationsPage
from mailfleet.desktop.ui.qt import QComboBox, Qt
from mailfleet.v1 import automations_pb2
from tests.agent.automations.peers import moved_clock, subjects
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import close, open_window, pair
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink

_WAIT = 60_000  # ms: a loaded machine's agent passes its runner about once a second
_DAY = 86_400


def _pick(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    assert index >= 0, f"{text!r} is not offered"
    combo.setCurrentIndex(index)


def _flow(page: AutomationsPage) -> list[str]:
    flow = page.designer.flow
    return [flow.item(i).text() for i in range(flow.count())]


def _event(proc: AgentProcess, address: str, key: str) -> int:
    reply = proc.stubs().automations.SendEvent(
        automations_pb2.SendEventRequest(name="joined", email=address, idempotency_key=key)
    )
    return reply.enrolled


def _send_step(qtbot: QtBot, page: AutomationsPage, row: int, template: str) -> None:
    page.designer.flow.setCurrentRow(row)
    panel = page.designer.panel
    assert panel.currentWidget() is panel.pages["send"]
    _pick(panel.template, template)
    panel.from_address.clear()
    qtbot.keyClicks(panel.from_address, "news@shop.example")  # type: ignore[no-untyped-call]


@pytest.fixture
def clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the agent reads its automations' offset from, at 0 (the real time)."""
    return moved_clock(tmp_path, monkeypatch)


def test_a_welcome_series_designed_here_runs_on_the_agent_with_versions(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    qsettings: Any,
    tmp_path: Path,
    artifacts: Path,
    clock: Path,
) -> None:
    engine = sqlite_engine
    with SmtpSink() as sink:
        proc = agent_factory(relay_config(sink))
        with engine.begin() as conn:
            ws = ensure_workspace(conn)
            templates.save(conn, ws, "Welcome", "Welcome, friend", "<p>Glad you came</p>", "")
            templates.save(conn, ws, "Reminder", "Did you see it?", "<p>Look again</p>", "")
            templates.save(conn, ws, "Reminder 2", "One more look", "<p>Last time</p>", "")
        pair(engine, ws, proc, "shop agent")
        window = open_window(qtbot, engine, ws, qsettings, tmp_path)
        window.go("Automations")
        page = window.automations
        designer = page.designer
        qtbot.waitUntil(lambda: designer.agents.count() == 1, timeout=_WAIT)
        assert page.empty.isVisible()
        assert designer.agents.item(0).checkState() == Qt.CheckState.Checked  # every agent
        page.grab().save(str(artifacts / "automations-empty.png"))

        # A new automation starts as a welcome series: send, wait 2 days, branch on opened.
        page.new()
        assert _flow(page)[1:] == [
            "1. Send an email (choose its template)",
            "2. Wait 2 days",
            "3. If the mail of step 1 was opened, go to the end",
            "4. Send an email (choose its template)",
        ]
        qtbot.keyClicks(designer.name, "Welcome series")  # type: ignore[no-untyped-call]
        designer.flow.setCurrentRow(0)
        _pick(designer.panel.trigger_kind, "An app sends an event")
        qtbot.keyClicks(designer.panel.event_name, "joined")  # type: ignore[no-untyped-call]
        _send_step(qtbot, page, 1, "Welcome")
        _send_step(qtbot, page, 4, "Reminder")
        assert _flow(page)[0] == "Start · When an app sends the event “joined”"
        assert _flow(page)[4] == "4. Send “Reminder”"
        page.save_button.click()
        qtbot.waitUntil(lambda: "paused, version 1" in page.status.text(), timeout=_WAIT)
        assert page.list.item(0).text() == "Welcome series\npaused · version 1"
        # Paused, it takes nobody in.
        assert _event(proc, "early@example.com", "e") == 0

        page.activate_button.click()
        qtbot.waitUntil(lambda: "running, version 1" in page.status.text(), timeout=_WAIT)
        assert not page.activate_button.isEnabled() and page.pause_button.isEnabled()
        assert _event(proc, "ann@example.com", "a") == 1
        qtbot.waitUntil(
            lambda: ("ann@example.com", "Welcome, friend") in subjects(sink), timeout=_WAIT
        )
        page.counts_button.click()
        qtbot.waitUntil(lambda: "1 entered · 1 sent" in _flow(page)[1], timeout=_WAIT)
        assert "1 entered · 0 sent · 0 opened · 0 clicked · 0 exited" in _flow(page)[2]
        assert "0 entered" in _flow(page)[3]
        page.grab().save(str(artifacts / "automations-designer-counts.png"))

        # Pause: a new event enrols nobody.
        page.pause_button.click()
        qtbot.waitUntil(lambda: "paused, version 1" in page.status.text(), timeout=_WAIT)
        assert _event(proc, "bob@example.com", "b") == 0

        # Edit: the reminder's template changes; version 2 for new contacts.
        qtbot.waitUntil(
            lambda: page.figures is not None and page.figures.in_progress == 1, timeout=_WAIT
        )
        _send_step(qtbot, page, 4, "Reminder 2")
        page.save_button.click()
        qtbot.waitUntil(lambda: "paused, version 2" in page.status.text(), timeout=_WAIT)
        assert page.message.text() == (
            "Saved as a new version: new contacts start on it; the 1 contact already in it "
            "finishes on the version they entered with."
        )
        page.activate_button.click()
        qtbot.waitUntil(lambda: "running, version 2" in page.status.text(), timeout=_WAIT)
        assert _event(proc, "carl@example.com", "c") == 1
        qtbot.waitUntil(
            lambda: ("carl@example.com", "Welcome, friend") in subjects(sink), timeout=_WAIT
        )
        # Three days on, Ann (version 1, who opened nothing) gets version 1's reminder.
        clock.write_text(str(3 * _DAY))
        qtbot.waitUntil(
            lambda: ("ann@example.com", "Did you see it?") in subjects(sink), timeout=_WAIT
        )
        qtbot.waitUntil(
            lambda: ("carl@example.com", "One more look") in subjects(sink), timeout=_WAIT
        )
        assert ("ann@example.com", "One more look") not in subjects(sink)
        assert not any(address == "bob@example.com" for address, _s in subjects(sink))

        page.counts_button.click()
        qtbot.waitUntil(
            lambda: page.figures is not None and page.figures.in_progress == 0, timeout=_WAIT
        )
        assert [designer.version.itemText(i) for i in range(designer.version.count())] == [
            "version 2 (newest)",
            "version 1",
        ]
        assert "1 entered · 1 sent" in _flow(page)[4]  # Carl's reminder, on version 2
        designer.version.setCurrentIndex(1)
        v1 = _flow(page)[5:]
        assert v1[0] == "Version 1, as it was:"
        assert v1[4] == ("4. Send an email — 1 entered · 1 sent · 0 opened · 0 clicked · 1 exited")
        page.grab().save(str(artifacts / "automations-version-1-counts.png"))
        close(qtbot, window)
