"""A job kept in step with one agent on a thread of its own: run when woken, and every
``retry_seconds`` so that an agent that was offline is caught up even if nobody wakes it. A
callback that raises ``ListenerGone`` ends the thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import grpc

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.listener import ListenerGone
from mailfleet.desktop.agents.registry import AgentRecord, FingerprintMismatch
from mailfleet.desktop.services import secrets

log = logging.getLogger(__name__)

R = TypeVar("R")


class AgentSyncThread(Generic[R]):
    """Runs ``job(stop)`` against one agent until ``stop``.

    ``on_result(agent_id, result_or_error)`` is called from the thread after each run whose
    result ``changed`` says is worth telling, and with the reason in words when the agent could
    not be reached.
    """

    def __init__(
        self,
        record: AgentRecord,
        job: Callable[[threading.Event], R],
        changed: Callable[[R], bool],
        on_result: Callable[[int, R | str], None],
        retry_seconds: float,
        name: str,
    ) -> None:
        self.record = record
        self.job = job
        self.changed = changed
        self.on_result = on_result
        self.retry_seconds = retry_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-{record.name}", daemon=True)

    def start(self) -> None:
        """Start (returns at once); the first run happens straight away."""
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        """Run now (or as soon as the run under way is done)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the step under way, and wait for the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._keep_running()
        except ListenerGone:
            self._stop.set()

    def _keep_running(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                result = self.job(self._stop)
            except ListenerGone:
                raise
            except FingerprintMismatch as exc:
                self.on_result(self.record.id, f"blocked: {exc}")
                return
            except grpc.RpcError as exc:
                self.on_result(self.record.id, registry.describe_rpc_error(exc))
            except (registry.AgentError, secrets.KeyringUnavailable) as exc:
                self.on_result(self.record.id, str(exc))
            except Exception as exc:  # reported; the next round tries again
                log.warning("%s with %s: %s", self._thread.name, self.record.name, exc)
                self.on_result(self.record.id, str(exc))
            else:
                if self.changed(result):
                    self.on_result(self.record.id, result)
