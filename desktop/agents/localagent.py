"""The local agent: one the desktop starts itself on 127.0.0.1 when no agent is paired.

It lives in the user's data folder and keeps the default configuration of a new agent, whose
default route is the capture mailbox: nothing it "sends" leaves the machine, so a new user
cannot mail real people by accident. It runs while the desktop runs.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from sqlalchemy import Engine

from agent.client.localagent import LocalAgent, free_port
from desktop.agents import registry
from desktop.agents.registry import AgentRecord
from desktop.db.engine import APP_NAME

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
