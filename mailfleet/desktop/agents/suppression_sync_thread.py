"""Keeping one agent's suppression list in step with the desktop's, on a thread of its own.

The thread pushes when woken (the list changed, or the agent is reachable again) and, so that
an agent that was offline is caught up even if nobody wakes it, every ``retry_seconds``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import grpc
from sqlalchemy import Engine

from mailfleet.desktop.agents import registry, suppression_sync
from mailfleet.desktop.agents.registry import AgentRecord, FingerprintMismatch
from mailfleet.desktop.agents.suppression_sync import PushResult
from mailfleet.desktop.services import secrets

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0


class SuppressionSyncThread:
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
        self.record = record
        self.on_result = on_result
        self.retry_seconds = retry_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"push-{record.name}", daemon=True)

    def start(self) -> None:
        """Start (returns at once); the first push happens straight away."""
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        """Push now (or as soon as the push under way is done)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the chunk under way, and wait for the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                result = suppression_sync.push(
                    self.engine, self.workspace_id, self.record, self._stop
                )
            except FingerprintMismatch as exc:
                self.on_result(self.record.id, f"blocked: {exc}")
                return
            except grpc.RpcError as exc:
                self.on_result(self.record.id, registry.describe_rpc_error(exc))
            except (registry.AgentError, secrets.KeyringUnavailable) as exc:
                self.on_result(self.record.id, str(exc))
            except Exception as exc:  # reported; the next round tries again
                log.warning("pushing suppressions to %s: %s", self.record.name, exc)
                self.on_result(self.record.id, str(exc))
            else:
                if result.changed:
                    self.on_result(self.record.id, result)
