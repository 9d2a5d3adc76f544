"""Pages refresh by themselves: after events from the agents are applied, and on a light timer
while shown, reading in the background; nobody needs F5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert

from mailfleet.desktop.agents import eventsync
from mailfleet.desktop.db.models import Agent, SuppressionReason
from mailfleet.desktop.services import suppression
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.v1 import events_pb2
from tests.desktop.fleetkit import seed_contacts

STATUS = 3  # the contacts table's Status column


def unsubscribed(seq: int, email: str) -> events_pb2.Event:
    event = events_pb2.Event(
        seq=seq, type=events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED, campaign_id=7, email=email
    )
    event.time.FromSeconds(1_790_000_000)
    return event


def test_contacts_and_suppression_refresh_after_events_and_on_their_timer(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    seed_contacts(sqlite_engine, ws, 6)
    window = MainWindow(sqlite_engine, ws, "Default", qsettings)
    qtbot.addWidget(window)
    window.show()
    page = window.contacts
    qtbot.waitUntil(lambda: page.count_label.text() == "6 contacts")
    page.table.selectRow(3)
    email = page.model.index(3, 0).data()
    assert page.model.index(3, STATUS).data() == "subscribed"

    # What a follower does when an agent reports an unsubscribe: apply it, then say so. (The
    # agent row is added after the window read its agents, so nothing tries to reach it.)
    with sqlite_engine.begin() as conn:
        agent_id = conn.scalar(insert(Agent).values(
            workspace_id=ws, name="a", host="127.0.0.1", port=1, fingerprint="0" * 64,
            key_ref="k", event_cursor=0).returning(Agent.id))  # fmt: skip
    assert agent_id is not None
    applied = eventsync.apply_events(sqlite_engine, ws, agent_id, [unsubscribed(1, email)])
    window.sync.applied.emit(applied)
    qtbot.waitUntil(lambda: page.model.index(3, STATUS).data() == "unsubscribed", timeout=15_000)
    # Refreshed where it stands: the same rows, the same selection.
    assert page.model.index(3, 0).data() == email
    assert [i.row() for i in page.table.selectionModel().selectedRows()] == [3]
    window.grab().save(str(artifacts / "auto-refresh-contacts.png"))

    # The Suppression page missed that while hidden: it is re-read when shown.
    window.go("Suppression")
    qtbot.waitUntil(lambda: window.suppression.status.text() == "1 suppressed address")

    # A change nobody announced (another desktop on a team database): the timer finds it.
    window.auto_refresh.idle.setInterval(300)
    with sqlite_engine.begin() as conn:
        suppression.add(conn, ws, "late@example.org", SuppressionReason.MANUAL, "test")
    qtbot.waitUntil(
        lambda: window.suppression.status.text() == "2 suppressed addresses", timeout=15_000
    )
    window.grab().save(str(artifacts / "auto-refresh-suppression.png"))
    window.close()
    window.runner.wait()
