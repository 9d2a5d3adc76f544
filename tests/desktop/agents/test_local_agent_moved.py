"""The desktop's pairing of ``make run``'s agent follows it when ``make run PORT=…`` moves it:
the same record (its campaigns, its event cursor) at the new port, not a second one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from mailfleet.agent.client.localagent import free_port
from mailfleet.agent.init import set_listen
from mailfleet.desktop.agents import localagent, registry
from mailfleet.desktop.services.workspaces import ensure_workspace
from tests.desktop.keyring_backend import FileKeyring


def test_a_moved_local_agent_keeps_its_record_at_the_new_port(
    sqlite_engine: Engine, secure_keyring: FileKeyring, tmp_path: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn, "Moved")
    data_dir = tmp_path / "var" / "agent"
    agent = localagent.start(data_dir)
    try:
        first = localagent.attach(sqlite_engine, ws, data_dir)
    finally:
        agent.stop()

    new_port = free_port()
    set_listen(data_dir / "agent.toml", "grpc", f"127.0.0.1:{new_port}")
    agent = localagent.start(data_dir)
    try:
        again = localagent.attach(sqlite_engine, ws, data_dir)
        assert again.id == first.id
        assert (again.host, again.port) == ("127.0.0.1", new_port)
        assert registry.status(again).reachable
    finally:
        agent.stop()
    with sqlite_engine.connect() as conn:
        assert [r.id for r in registry.list_agents(conn, ws)] == [first.id]
