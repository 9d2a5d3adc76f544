"""The Suppression page counts the changes its agents wait for off the GUI thread: a count the
database holds up leaves the page working, and the count shows once the database lets it."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert, text

from mailfleet.desktop.db.models import Agent, SuppressionReason
from mailfleet.desktop.services import suppression
from mailfleet.desktop.ui.suppression_page import SuppressionPage
from mailfleet.desktop.ui.tasks import TaskRunner

WAITING = "Agents waiting for changes: Paris ({}). They get them as soon as they can be reached."


# PostgreSQL: a lock on the agents table holds up every reader of it, as SQLite's WAL does not.
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_count_held_up_by_the_database_leaves_the_page_working(
    qtbot: QtBot, engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Agent).values(
                workspace_id=workspace,
                name="Paris",
                host="127.0.0.1",
                port=1,  # never contacted: counting needs no agent
                fingerprint="0" * 64,
                key_ref="unused",
            )
        )
        suppression.add(conn, workspace, "ann@example.com", SuppressionReason.MANUAL, "desktop")
    runner = TaskRunner()
    page = SuppressionPage(engine, workspace, runner)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.agents_status.text() == WAITING.format(1))
    with engine.connect() as locker:
        locker.execute(text("LOCK TABLE agents IN ACCESS EXCLUSIVE MODE"))
        # A count on the GUI thread would wait here for the lock, and the page with it.
        qtbot.keyClicks(page.address, "bob@example.com")  # type: ignore[no-untyped-call]
        page.add_address()
        qtbot.waitUntil(lambda: page.status.text() == "2 suppressed addresses")
        assert page.table.rowCount() == 2
        assert page.agents_status.text() == WAITING.format(1)  # the new count is held up
        locker.rollback()
    qtbot.waitUntil(lambda: page.agents_status.text() == WAITING.format(2))
    assert runner.wait()
