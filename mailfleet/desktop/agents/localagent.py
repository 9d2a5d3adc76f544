"""The local agent: one on 127.0.0.1 whose mail stays in its capture mailbox.

Either the desktop starts it itself (in the user's data folder, when no agent is paired), or
``make run`` started it before the desktop and the desktop attaches to it. Both keep the default
configuration of a new agent, whose default route is the capture mailbox: nothing it "sends"
leaves the machine, so a new user cannot mail real people by accident.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from sqlalchemy import Engine

from mailfleet.agent.client.localagent import LocalAgent, free_port, read_pairing
from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.db.engine import APP_NAME

LOCAL_NAME = "This computer"


def default_dir() -> Path:
    """Where the local agent keeps its data."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "local-agent"


def start(data_dir: Path) -> LocalAgent:
    """Start (creating on first use) the local agent in ``data_dir``; blocks until it answers."""
    local = LocalAgent(data_dir, f"127.0.0.1:{free_port()}")
    local.start(data_dir.parent / "local-agent.log")
    return local


def start_and_pair(
    engine: Engine, workspace_id: int, data_dir: Path
) -> tuple[LocalAgent, AgentRecord]:
    """Start the local agent and pair it as "This computer"."""
    local = start(data_dir)
    try:
        record = registry.pair(
            engine, workspace_id, str(local.pairing), LOCAL_NAME, local_dir=str(data_dir)
        )
    except Exception:
        local.stop()
        raise
    return local, record


def attach(engine: Engine, workspace_id: int, data_dir: Path) -> AgentRecord:
    """The paired record of the agent already running from ``data_dir`` (``make run`` started
    it), pairing it as "This computer" the first time; blocking (it asks the agent)."""
    pairing = read_pairing(data_dir)
    with engine.connect() as conn:
        records = registry.list_agents(conn, workspace_id)
    for record in records:
        if (record.host, record.port) == (pairing.host, pairing.port):
            return record
    for record in records:
        # `make run PORT=…` moved it: the same agent (its pinned certificate) on another port.
        if (
            record.local_dir == str(data_dir.resolve())
            and record.fingerprint == pairing.fingerprint
        ):
            return registry.move(engine, workspace_id, record.id, pairing.host, pairing.port)
    return registry.pair(
        engine, workspace_id, str(pairing), LOCAL_NAME, local_dir=str(data_dir.resolve())
    )
