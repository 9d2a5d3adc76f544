"""The window's link to the agents: per agent, a follower of its event stream, a pusher of
the suppression list and a signup sync (forms out, signups in), each on its own thread;
the window only hears what changed, as signals on the GUI thread. A thread that finds its
FleetSync deleted (a page dropped without stopping it, as tests do) ends itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from mailfleet.desktop.agents.follow import Follower
from mailfleet.desktop.agents.listener import ListenerGone
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.agents.signup_sync_thread import SignupSyncThread
from mailfleet.desktop.agents.suppression_sync import PushResult
from mailfleet.desktop.agents.suppression_sync_thread import RETRY_SECONDS, SuppressionSyncThread
from mailfleet.desktop.ui.qt import QObject, Signal, SignalInstance, Slot, isValid


class FleetSync(QObject):
    """Follows every paired agent, and pushes suppressions to it, while the window is open."""

    # Emitted from follower and pusher threads; Qt queues them to the GUI thread's slots.
    applied = Signal(object)
    agent_state = Signal(int, str)
    # An agent's id and what a push did there (a PushResult), or why it could not (a str).
    pushed = Signal(int, object)
    # An agent's id and what a signup round did there (a SignupSync), or why it could not.
    signups = Signal(int, object)

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        parent: QObject | None = None,
        push_retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.workspace_id = workspace_id
        self.push_retry_seconds = push_retry_seconds
        self.followers: dict[int, Follower] = {}
        self.pushers: dict[int, SuppressionSyncThread] = {}
        self.signup_syncs: dict[int, SignupSyncThread] = {}
        self.states: dict[int, str] = {}
        self.pushes: dict[int, PushResult | str] = {}
        self.agent_state.connect(self._state)
        self.pushed.connect(self.pushes.__setitem__)
        # Events may have suppressed addresses (bounces, complaints): the other agents need them.
        self.applied.connect(self.push_suppressions)
        # Deleted without stop_all (a page dropped by a test): tell every thread to end, without
        # waiting for them on the deleting thread. The callable must not touch ``self``.
        groups = (self.followers, self.pushers, self.signup_syncs)
        self.destroyed.connect(lambda: _stop_soon(*groups))

    def _relay(self, signal: SignalInstance) -> Callable[..., None]:
        """``signal.emit`` for a thread, raising ``ListenerGone`` once this object is deleted
        (the thread then ends instead of emitting from a deleted source)."""

        def emit(*args: Any) -> None:
            if not isValid(self):
                raise ListenerGone
            try:
                signal.emit(*args)
            except RuntimeError as exc:  # deleted between the check and the emit
                raise ListenerGone from exc

        return emit

    @Slot(int, str)
    def _state(self, agent_id: int, state: str) -> None:
        self.states[agent_id] = state
        pusher = self.pushers.get(agent_id)
        if state == "following" and pusher is not None:
            pusher.wake()  # reachable again: give it what it missed now, not at the next retry
        signup_sync = self.signup_syncs.get(agent_id)
        if state == "following" and signup_sync is not None:
            signup_sync.wake()

    @Slot()
    def push_suppressions(self) -> None:
        """Push the suppression list's changes to every agent (in the background)."""
        for pusher in self.pushers.values():
            pusher.wake()

    @Slot()
    def sync_signups(self) -> None:
        """Push saved forms and pull signups from every agent now (in the background)."""
        for signup_sync in self.signup_syncs.values():
            signup_sync.wake()

    @Slot(object)
    def follow_all(self, records: list[AgentRecord]) -> None:
        """Follow each of ``records`` that is not followed yet (the Agents page read them)."""
        for record in records:
            self.follow(record)

    def follow(self, record: AgentRecord) -> None:
        """Start following one agent (no-op if it is followed already)."""
        if record.id in self.followers:
            return
        follower = Follower(
            self.engine,
            self.workspace_id,
            record,
            self._relay(self.applied),
            self._relay(self.agent_state),
        )
        self.followers[record.id] = follower
        follower.start()
        pusher = SuppressionSyncThread(
            self.engine,
            self.workspace_id,
            record,
            self._relay(self.pushed),
            self.push_retry_seconds,
        )
        self.pushers[record.id] = pusher
        pusher.start()
        signup_sync = SignupSyncThread(
            self.engine, self.workspace_id, record, self._relay(self.signups)
        )
        self.signup_syncs[record.id] = signup_sync
        signup_sync.start()

    def forget(self, agent_id: int) -> None:
        """Stop following an agent (it was removed)."""
        follower = self.followers.pop(agent_id, None)
        if follower is not None:
            follower.stop()
        pusher = self.pushers.pop(agent_id, None)
        if pusher is not None:
            pusher.stop()
        signup_sync = self.signup_syncs.pop(agent_id, None)
        if signup_sync is not None:
            signup_sync.stop()

    def stop_all(self) -> None:
        """Stop every follower and pusher; events already received are applied first, and a
        push stops after the chunk under way (the rest goes at the next start)."""
        for pusher in self.pushers.values():
            pusher.stop()
        self.pushers.clear()
        for signup_sync in self.signup_syncs.values():
            signup_sync.stop()
        self.signup_syncs.clear()
        for follower in self.followers.values():
            follower.stop()
        self.followers.clear()


def _stop_soon(
    followers: dict[int, Follower],
    pushers: dict[int, SuppressionSyncThread],
    signup_syncs: dict[int, SignupSyncThread],
) -> None:
    """Ask every thread to stop, returning at once."""
    threads: list[Follower | SuppressionSyncThread | SignupSyncThread] = [
        *followers.values(),
        *pushers.values(),
        *signup_syncs.values(),
    ]
    for thread in threads:
        thread.stop(timeout=0)
    for group in (followers, pushers, signup_syncs):
        group.clear()
