"""The desktop's collectors for a whole workspace, with no window: what ``mailfleet-desktop
sync`` runs on a server so that the fleet keeps itself in step while every desktop is closed.

For each paired agent, the same threads the window starts (``ui/fleet_sync.py``): a follower of
its events, a pusher of the suppression list and a signup sync; and for the workspace, the
resumption of interrupted uploads. Events an agent reports (an unsubscribe, a bounce, a
complaint) wake every pusher, so what one agent learned reaches the others at once. Agents
paired or removed on a desktop are picked up within ``rescan_seconds``.

Running beside open desktops is safe: events are applied exactly once by cursor whoever reads
them, pushes repeat at most what the agent already has, and an upload resumed twice is
refused by the agent as duplicates.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from mailfleet.desktop.agents import eventsync, registry
from mailfleet.desktop.agents.follow import Follower
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.agents.signup_sync_thread import SignupSync, SignupSyncThread
from mailfleet.desktop.agents.suppression_sync import PushResult
from mailfleet.desktop.agents.suppression_sync_thread import RETRY_SECONDS, SuppressionSyncThread
from mailfleet.desktop.agents.upload import UploadCancelled, UploadIncomplete, upload_campaign
from mailfleet.desktop.services import campaigns, secrets
from mailfleet.desktop.services.plurals import counted

log = logging.getLogger(__name__)

RESCAN_SECONDS = 30.0


class HeadlessFleet:
    """Keeps every agent of one workspace in step with the database until ``stop``."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        rescan_seconds: float = RESCAN_SECONDS,
        push_retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.engine = engine
        self.workspace_id = workspace_id
        self.rescan_seconds = rescan_seconds
        self.push_retry_seconds = push_retry_seconds
        self.followers: dict[int, Follower] = {}
        self.pushers: dict[int, SuppressionSyncThread] = {}
        self.signup_syncs: dict[int, SignupSyncThread] = {}
        self.states: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()

    def run(self) -> None:
        """Follow, push and resume uploads until :meth:`stop` (blocking)."""
        log.info("fleet sync started")
        try:
            while not self._stop.is_set():
                self._rescan()
                self._resume_uploads()
                self._wake.wait(self.rescan_seconds)
                self._wake.clear()
        finally:
            self._stop_threads()
            log.info("fleet sync stopped")

    def stop(self) -> None:
        """Ask :meth:`run` to stop (safe from a signal handler); uploads stop after their
        chunk under way, events received are applied first."""
        self._stop.set()
        self._wake.set()

    def _rescan(self) -> None:
        with self.engine.connect() as conn:
            records = registry.list_agents(conn, self.workspace_id)
        current = {r.id for r in records}
        for agent_id in [a for a in self.followers if a not in current]:
            log.info("%s was removed; no longer followed", self._names.get(agent_id, agent_id))
            self._forget(agent_id)
        for record in records:
            if record.id not in self.followers:
                self._follow(record)

    def _follow(self, record: AgentRecord) -> None:
        self._names[record.id] = record.name
        follower = Follower(self.engine, self.workspace_id, record, self._applied, self._state)
        pusher = SuppressionSyncThread(
            self.engine, self.workspace_id, record, self._pushed, self.push_retry_seconds
        )
        signups = SignupSyncThread(self.engine, self.workspace_id, record, self._signups)
        self.followers[record.id] = follower
        self.pushers[record.id] = pusher
        self.signup_syncs[record.id] = signups
        for thread in (follower, pusher, signups):
            thread.start()
        log.info("following %s", record.name)

    def _forget(self, agent_id: int) -> None:
        for group in (self.followers, self.pushers, self.signup_syncs):
            thread = group.pop(agent_id, None)
            if thread is not None:
                thread.stop()
        self.states.pop(agent_id, None)

    def _stop_threads(self) -> None:
        for agent_id in list(self.followers):
            self._forget(agent_id)

    def _applied(self, applied: eventsync.Applied) -> None:
        # Events may have suppressed addresses (unsubscribes, bounces): every agent needs them.
        for pusher in list(self.pushers.values()):
            pusher.wake()

    def _state(self, agent_id: int, state: str) -> None:
        name = self._names.get(agent_id, agent_id)
        if self.states.get(agent_id) != state:
            log.info("%s: %s", name, state)
        self.states[agent_id] = state
        if state == "following":
            # Reachable again: what it missed goes now, not at the next retry.
            for group in (self.pushers, self.signup_syncs):
                thread = group.get(agent_id)
                if thread is not None:
                    thread.wake()
            self._wake.set()

    def _pushed(self, agent_id: int, result: PushResult | str) -> None:
        name = self._names.get(agent_id, agent_id)
        if isinstance(result, str):
            log.warning("suppressions for %s wait: %s", name, result)
        else:
            log.info(
                "suppressions pushed to %s: %s added, %s removed",
                name,
                result.added,
                result.removed,
            )

    def _signups(self, agent_id: int, result: SignupSync | str) -> None:
        name = self._names.get(agent_id, agent_id)
        if isinstance(result, str):
            log.warning("signups of %s wait: %s", name, result)
        else:
            log.info("%s from %s applied", counted(result.signups.changes, "signup change"), name)

    def _resume_uploads(self) -> None:
        with self.engine.connect() as conn:
            waiting = campaigns.unfinished_uploads(conn, self.workspace_id)
        for campaign_id in waiting:
            if self._stop.is_set():
                return
            try:
                upload_campaign(self.engine, self.workspace_id, campaign_id, cancel=self._stop)
            except UploadCancelled:
                return
            except UploadIncomplete as exc:
                log.warning("campaign %s: upload waits for %s", campaign_id, ", ".join(exc.agents))
            except (registry.AgentError, secrets.KeyringUnavailable) as exc:
                log.warning("campaign %s: upload waits: %s", campaign_id, exc)
            except Exception as exc:  # logged; the next round tries again
                log.warning("campaign %s: upload failed: %s", campaign_id, exc)
            else:
                log.info("campaign %s: uploaded to its agents", campaign_id)
