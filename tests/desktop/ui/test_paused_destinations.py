"""Paused destinations from the Agents page against a real agent: the domains and routes its
operator suspended, why and until when; resuming one lets its waiting mail go out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.agent.client import AgentClient
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.paused_dialog import NOTHING_PAUSED
from mailfleet.desktop.ui.qt import QTableWidget
from mailfleet.v1 import queue_pb2
from tests.agent.builders import relay_config, transactional
from tests.desktop.fleetkit import close, open_window, pair
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]


def cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def test_the_marketer_sees_paused_destinations_and_resumes_one(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    secure_keyring: FileKeyring,
    agent_factory: AgentFactory,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    with SmtpSink() as sink:
        proc = agent_factory(relay_config(sink))
        record = pair(sqlite_engine, ws, proc, "Lyon")
        with AgentClient(record.pairing()) as client:
            client.suspend(
                queue_pb2.SuspendRequest(
                    kind=queue_pb2.SUSPENSION_KIND_DOMAIN,
                    name="held.example",
                    reason="their MX refuses us for now",
                )
            )
            client.suspend(
                queue_pb2.SuspendRequest(
                    kind=queue_pb2.SUSPENSION_KIND_ROUTE, name="relay", duration_seconds=7200
                )
            )
        proc.stubs().transactional.SendMessage(transactional("held", "buyer@held.example"))
        window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
        qtbot.waitUntil(lambda: record.id in window.agents.status)
        window.agents.table.selectRow(0)
        window.agents.grab().save(str(artifacts / "agents-page-paused-button.png"))
        dialog = window.agents.open_paused()
        assert dialog is not None
        qtbot.waitUntil(lambda: dialog.table.rowCount() == 2)
        assert [cell(dialog.table, r, 0) for r in range(2)] == ["held.example", "route relay"]
        assert cell(dialog.table, 0, 1) == "their MX refuses us for now"
        assert cell(dialog.table, 0, 3) == "until resumed"
        assert cell(dialog.table, 1, 3) not in ("", "until resumed")  # a date and time
        assert dialog.message.text() == "2 destinations paused."
        assert not dialog.resume_button.isEnabled()  # nothing chosen yet
        dialog.grab().save(str(artifacts / "paused-destinations.png"))

        # Resume the route, then the domain: the held message goes out.
        dialog.table.selectRow(1)
        dialog.resume_button.click()
        qtbot.waitUntil(lambda: dialog.table.rowCount() == 1)
        assert dialog.message.text() == "Resumed route relay: its mail goes out again."
        dialog.table.selectRow(0)
        dialog.resume_button.click()
        qtbot.waitUntil(lambda: dialog.message.text().startswith("Resumed held.example"))
        assert dialog.table.rowCount() == 0
        (sent,) = sink.wait_for(1, timeout=60)
        assert sent.rcpt_to == ("buyer@held.example",)
        dialog.refresh()
        qtbot.waitUntil(lambda: dialog.message.text() == NOTHING_PAUSED)
        dialog.grab().save(str(artifacts / "paused-destinations-none.png"))
        close(qtbot, window)
