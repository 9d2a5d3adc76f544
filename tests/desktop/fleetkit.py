"""Helpers for the fleet tests: seeded contacts, paired agents, the app's window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert, select

from desktop.agents import registry
from desktop.agents.registry import AgentRecord
from desktop.db.models import Contact, FieldType, ListMembership
from desktop.services import stats
from desktop.services.fields import create_field, list_fields
from desktop.services.workspaces import create_list
from desktop.ui.main_window import MainWindow
from desktop.ui.qt import QMessageBox
from tests.peers.agent import AgentProcess


def seed_contacts(
    engine: Engine,
    workspace: int,
    n: int,
    domains: tuple[str, ...] = ("example.com",),
    list_name: str = "Everyone",
) -> int:
    """``n`` subscribed contacts spread over ``domains`` with a "city" field, all on one new
    list; its id."""
    with engine.begin() as conn:
        if "city" not in {f.key for f in list_fields(conn, workspace)}:
            create_field(conn, workspace, "City", FieldType.TEXT)
        list_id = create_list(conn, workspace, list_name)
        rows = [
            {
                "workspace_id": workspace,
                "email": f"user{i}@{domains[i % len(domains)]}",
                "first_name": f"First{i}",
                "fields": {"city": "Paris"},
            }
            for i in range(n)
        ]
        conn.execute(insert(Contact), rows)
        ids = conn.scalars(select(Contact.id).where(Contact.workspace_id == workspace)).all()
        conn.execute(insert(ListMembership), [{"contact_id": i, "list_id": list_id} for i in ids])
    return list_id


def pair(engine: Engine, workspace: int, proc: AgentProcess, name: str) -> AgentRecord:
    """Pair a running test agent under ``name``."""
    return registry.pair(engine, workspace, str(proc.pairing), name)


def open_window(
    qtbot: QtBot, engine: Engine, workspace: int, qsettings: Any, tmp_path: Path
) -> MainWindow:
    """The app's window, as it opens at start (following and pushing to every agent)."""
    window = MainWindow(engine, workspace, "Default", qsettings, tmp_path / "local-agent")
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    return window


def close(qtbot: QtBot, window: MainWindow) -> None:
    """Close the window and let its last background results arrive."""
    window.close()
    window.runner.wait()
    qtbot.wait(200)


def totals(engine: Engine, workspace: int, campaign_id: int) -> stats.Totals:
    """The dashboard's totals for one campaign."""
    with engine.connect() as conn:
        return stats.totals(conn, workspace, campaign_id)


def keyring_file(tmp_path: Path) -> Path:
    """Where the test keyring keeps its secrets."""
    return tmp_path / "keyring.json"


def answer(box: QMessageBox | None, text: str) -> None:
    """Press the button labelled ``text`` of the question the window is asking."""
    assert box is not None and box.isVisible()
    next(b for b in box.buttons() if b.text() == text).click()
