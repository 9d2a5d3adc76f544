"""Keeping one agent's suppression list in step with the desktop's, on a thread of its own.

The thread pushes when woken (the list changed, or the agent is reachable again) and, so that
an agent that was offline is caught up even if nobody wakes it, every ``retry_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from mailfleet.desktop.agents import suppression_sync
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.agents.suppression_sync import PushResult
from mailfleet.desktop.agents.sync_thread import AgentSyncThread

RETRY_SECONDS = 30.0


class SuppressionSyncThread(AgentSyncThread[PushResult]):
    """Pushes the workspace's suppressions to one agent until ``stop``.

    ``on_result(agent_id, result_or_error)`` is called from the thread after each push that sent
    something, and with the reason in words when the agent could not be reached.
    """

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        record: AgentRecord,
        on_result: Callable[[int, PushResult | str], None],
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.engine = engine
        self.workspace_id = workspace_id
        super().__init__(
            record,
            lambda stop: suppression_sync.push(engine, workspace_id, record, stop),
            lambda result: result.changed,
            on_result,
            retry_seconds,
            "push",
        )
