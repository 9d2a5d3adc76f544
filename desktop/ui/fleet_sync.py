"""The window's link to the agents' event streams: one follower per agent, signals on the GUI
thread. Followers run on their own threads; the window only hears what changed."""

from __future__ import annotations

from sqlalchemy import Engine

from desktop.services import agents
from desktop.services.agents import AgentRecord
from desktop.services.follow import Follower
from desktop.ui.qt import QObject, Signal


class FleetSync(QObject):
    """Follows every paired agent while the window is open."""

    # Emitted from follower threads; Qt queues them to the GUI thread's slots.
    applied = Signal(object)
    agent_state = Signal(int, str)

    def __init__(self, engine: Engine, workspace_id: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.workspace_id = workspace_id
        self.followers: dict[int, Follower] = {}
        self.states: dict[int, str] = {}
        self.agent_state.connect(self.states.__setitem__)

    def start_all(self) -> None:
        """Follow every agent of the workspace that is not followed yet."""
        with self.engine.connect() as conn:
            records = agents.list_agents(conn, self.workspace_id)
        for record in records:
            self.follow(record)

    def follow(self, record: AgentRecord) -> None:
        """Start following one agent (no-op if it is followed already)."""
        if record.id in self.followers:
            return
        follower = Follower(
            self.engine, self.workspace_id, record, self.applied.emit, self.agent_state.emit
        )
        self.followers[record.id] = follower
        follower.start()

    def forget(self, agent_id: int) -> None:
        """Stop following an agent (it was removed)."""
        follower = self.followers.pop(agent_id, None)
        if follower is not None:
            follower.stop()

    def stop_all(self) -> None:
        """Stop every follower; events already received are applied first."""
        for follower in self.followers.values():
            follower.stop()
        self.followers.clear()
