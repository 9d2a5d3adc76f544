"""Following one agent's events: catch up by cursor, then its watch stream, off the GUI thread.

Two threads per agent: the reader iterates the agent's ``WatchEventBatches`` stream (events as
they were committed together, rather than one gRPC message each, which would cost the agent more
than the deliveries they tell of) into a queue, the applier drains the queue and applies what
arrived every ``FLUSH_SECONDS`` (or every ``BATCH`` events) in one transaction, so a busy
campaign costs a few transactions a second, not one per event. When the agent cannot be
reached it tries again with a growing pause; a changed certificate stops it for good (the
marketer must re-pair). A callback that raises ``ListenerGone`` ends the threads too.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import grpc
from sqlalchemy import Engine

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import event_gap, eventsync, fleet, registry
from mailfleet.desktop.agents.listener import ListenerGone
from mailfleet.desktop.agents.registry import AgentRecord, FingerprintMismatch
from mailfleet.v1 import agent_pb2, events_pb2

log = logging.getLogger(__name__)

BATCH = 5_000
FLUSH_SECONDS = 0.25
PAGE = 5_000
_END = object()


class Follower:
    """Keeps one agent's events flowing into the database until ``stop``."""

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        record: AgentRecord,
        on_applied: Callable[[eventsync.Applied], None],
        on_state: Callable[[int, str], None],
    ) -> None:
        self.engine = engine
        self.workspace_id = workspace_id
        self.record = record
        self.on_applied = on_applied
        self.on_state = on_state
        self._stop = threading.Event()
        self._stream: grpc.CallIterator[events_pb2.EventBatch] | None = None
        self._thread = threading.Thread(target=self._run, name=f"follow-{record.name}", daemon=True)

    def start(self) -> None:
        """Start following (returns at once)."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and wait for the threads; events already received are applied first."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.cancel()  # type: ignore[no-untyped-call]
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._keep_following()
        except ListenerGone:
            self._stop.set()

    def _keep_following(self) -> None:
        pause = 1.0
        while not self._stop.is_set():
            try:
                self._follow()
                pause = 1.0
            except ListenerGone:
                raise
            except FingerprintMismatch as exc:
                self.on_state(self.record.id, f"blocked: {exc}")
                return
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    return
                self.on_state(self.record.id, f"unreachable: {registry.describe_rpc_error(exc)}")
            except Exception as exc:  # reported to the window; following goes on after a pause
                log.warning("following %s: %s", self.record.name, exc)
                self.on_state(self.record.id, f"unreachable: {exc}")
            self._stop.wait(pause)
            pause = min(pause * 2, 15.0)

    def _catch_up(self, agent: AgentStubs) -> int:
        cursor = self._cursor()
        try:
            return self._read_from(agent, cursor)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.OUT_OF_RANGE:
                raise
        # Away longer than the agent keeps events: see mailfleet/desktop/agents/event_gap.py. Every
        # seq up to the agent's newest at this moment is either read below or gone.
        newest = agent.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=registry.CALL_TIMEOUT)
        log.warning("%s pruned events the desktop had not read; healing", self.record.name)
        self._read_from(agent, 0)
        applied = eventsync.apply_events(
            self.engine, self.workspace_id, self.record.id, [], newest.last_event_seq
        )
        healed = event_gap.heal(self.engine, self.record.id, agent)
        if healed.campaigns:
            self.on_applied(healed)
        return applied.cursor

    def _read_from(self, agent: AgentStubs, cursor: int) -> int:
        while not self._stop.is_set():
            page = agent.events.ListEvents(
                events_pb2.ListEventsRequest(after_seq=cursor, limit=PAGE),
                timeout=registry.CALL_TIMEOUT * 3,
            )
            applied = eventsync.apply_events(
                self.engine, self.workspace_id, self.record.id, page.events, page.next_after_seq
            )
            if applied.events:
                self.on_applied(applied)
            if not page.events:
                return applied.cursor
            cursor = applied.cursor
        return cursor

    def _cursor(self) -> int:
        applied = eventsync.apply_events(self.engine, self.workspace_id, self.record.id, [])
        return applied.cursor

    def _follow(self) -> None:
        changed = fleet.deliver_to_agent(self.engine, self.workspace_id, self.record.id)
        if changed:
            self.on_applied(eventsync.Applied(campaigns=changed))
        with registry.stubs(self.record) as agent:
            cursor = self._catch_up(agent)
            self.on_state(self.record.id, "following")
            stream = agent.events.WatchEventBatches(events_pb2.WatchEventsRequest(after_seq=cursor))
            self._stream = stream
            inbox: queue.Queue[object] = queue.Queue()
            reader = threading.Thread(target=self._read, args=(stream, inbox), daemon=True)
            reader.start()
            try:
                self._apply_from(inbox)
            finally:
                stream.cancel()  # type: ignore[no-untyped-call]
                reader.join(5)
                self._stream = None

    def _read(
        self, stream: grpc.CallIterator[events_pb2.EventBatch], inbox: queue.Queue[object]
    ) -> None:
        try:
            for batch in stream:
                inbox.put(batch)
            inbox.put(_END)
        except grpc.RpcError as exc:
            inbox.put(exc)

    def _apply_from(self, inbox: queue.Queue[object]) -> None:
        while True:
            pending: list[events_pb2.Event] = []
            failure: object = None
            try:
                item = inbox.get(timeout=FLUSH_SECONDS)
                while True:
                    if isinstance(item, events_pb2.EventBatch):
                        pending.extend(item.events)
                    else:
                        failure = item
                        break
                    if len(pending) >= BATCH:
                        break
                    item = inbox.get_nowait()
            except queue.Empty:
                pass
            if pending:
                applied = eventsync.apply_events(
                    self.engine, self.workspace_id, self.record.id, pending
                )
                if applied.events:
                    self.on_applied(applied)
            if failure is not None:
                if isinstance(failure, grpc.RpcError):
                    raise failure
                raise grpc.RpcError("the agent ended the event stream")
            if self._stop.is_set() and inbox.empty():
                return
