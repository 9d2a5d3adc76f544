"""FleetSync's threads when the FleetSync goes away without being stopped (a page a test drops
without closing its window): they end themselves instead of emitting from a deleted object."""

from __future__ import annotations

import threading

import shiboken6
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert

from mailfleet.desktop.agents import registry
from mailfleet.desktop.db.models import Agent
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.fleet_sync import FleetSync

NAME = "dropped-sync-agent"


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.endswith(f"-{NAME}")]


def test_threads_end_when_their_fleet_sync_is_deleted_unstopped(
    qtbot: QtBot, sqlite_engine: Engine
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        # Nothing listens there and no key is kept for it: every round fails and is reported.
        conn.execute(insert(Agent).values(workspace_id=ws, name=NAME, host="127.0.0.1", port=1,
                                          fingerprint="0" * 64, key_ref="gone"))  # fmt: skip
        (record,) = registry.list_agents(conn, ws)
    sync = FleetSync(sqlite_engine, ws)
    sync.follow(record)
    assert len(_threads()) == 3
    qtbot.waitUntil(lambda: record.id in sync.states)  # the follower reported once already
    shiboken6.delete(sync)
    qtbot.waitUntil(lambda: not _threads())
