"""A worker process: render, sign and deliver the jobs it is sent; report every outcome.

It never opens the store. Jobs arrive in batches over a pipe; each batch is rendered and signed
on the main thread (CPU work, with a time cap per message), then split by route and destination
(the recipient domain, by direct MX) into independent delivery tasks, so a slow destination
never holds back another.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import threading
from collections import Counter, defaultdict, deque
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import NoReturn

from mailfleet.agent import event_loop, logs
from mailfleet.agent.delivery import faults
from mailfleet.agent.delivery.faults import Fault
from mailfleet.agent.delivery.jobs import Job, MessageSpec, Report, WorkBatch
from mailfleet.agent.delivery.pipeline import Pipeline
from mailfleet.agent.delivery.settings import DeliveryInputs
from mailfleet.agent.render.limits import keep_handler
from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routes.shaping import CampaignThrottles
from mailfleet.agent.routing.rules import Plan
from mailfleet.agent.store.suspensions import Holds

log = logging.getLogger("mailfleet.agent.delivery")

# Jobs built between two looks at the inbox (about 0.05 s of rendering and signing), and so
# the most one delivery carries: its outcomes come back when its last message is answered, and
# a crash before they are recorded sends them again.
_CHUNK = 50
# Outcomes go back to the coordinator at most this often (the first after a pause at once):
# until they are recorded, a crash sends them again.
_REPORT_EVERY = 0.01
# Messages built between two turns of the event loop (a few milliseconds of CPU).
_YIELD_EVERY = 4
# prctl(2): the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _coordinator_gone(index: int) -> NoReturn:
    """End the worker at once: nothing it sends from now on can be recorded, so finishing its
    deliveries would only send mail the restarted agent sends again."""
    log.info("worker %d: the coordinator is gone; exiting", index)
    logging.shutdown()
    os._exit(0)


def _die_with(parent: int, index: int) -> None:
    """Ask the kernel to kill this worker when the coordinator dies (Linux), even by kill -9;
    the pipe's end of file covers every other system, a little later."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request was made
        _coordinator_gone(index)


class _Reporter:
    """Sends outcomes back to the coordinator: at once after a quiet spell, else gathered
    until _REPORT_EVERY seconds after the last report.

    Deliveries finish a destination at a time; one pipe message per destination would wake
    the coordinator thousands of times a second. Used on the worker's event loop only.
    """

    def __init__(self, conn: Connection, loop: asyncio.AbstractEventLoop, index: int) -> None:
        self._conn = conn
        self._loop = loop
        self._index = index
        self._buffer: list[Outcome] = []
        self._starting: list[int] = []
        self._flush_at: asyncio.TimerHandle | None = None
        self._last = 0.0

    def send(self, outcomes: list[Outcome]) -> None:
        """Queue outcomes; they leave within _REPORT_EVERY seconds."""
        self._buffer.extend(outcomes)
        if not self._buffer or self._flush_at is not None:
            return
        wait = self._last + _REPORT_EVERY - self._loop.time()
        if wait > 0:
            self._flush_at = self._loop.call_later(wait, self.flush)
        else:
            self.flush()

    def serving(self) -> None:
        """Tell the coordinator this worker has started (an empty report)."""
        try:
            self._conn.send(Report([]))
        except (OSError, ValueError):
            _coordinator_gone(self._index)

    def delivering(self, message_ids: list[int]) -> None:
        """Tell the coordinator, before they are handed to a route, which messages are being
        sent: if this worker dies before their outcomes, it died with them under way."""
        if message_ids:
            self._starting.extend(message_ids)
            self.flush()

    def flush(self) -> None:
        """Send what is gathered now."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if self._buffer or self._starting:
            self._last = self._loop.time()
            report = Report(self._buffer, tuple(self._starting))
            self._buffer, self._starting = [], []
            try:
                self._conn.send(report)
            except (OSError, ValueError):
                _coordinator_gone(self._index)


class Inbox:
    """Jobs waiting to be built, transactional ones first.

    Batches are taken apart as they arrive, so a transactional job waits behind at most one
    chunk of campaign jobs being rendered, never behind everything already sent to this worker;
    and a large batch (the leases returned after a restart) goes out a chunk at a time, each
    chunk's outcomes recorded while the next is sent.
    """

    def __init__(self) -> None:
        self.specs: dict[str, MessageSpec] = {}
        # Jobs waiting for each transactional message's spec: it goes once they are built (a
        # campaign's stays for the campaign's next messages).
        self._waiting: Counter[str] = Counter()
        self.throttles: dict[int, int] = {}  # campaign id -> its slot in CampaignThrottles
        self.holds = Holds()  # the suspended routes (and domains) in force
        self.pipeline: Pipeline | None = None
        self._transactional: deque[Job] = deque()
        self._bulk: deque[Job] = deque()
        self._arrived = asyncio.Event()
        self.closed = False

    def put(self, batch: WorkBatch | None) -> None:
        """Called on the loop for each batch the coordinator sends (None: finish and exit)."""
        if batch is None:
            self.closed = True
        else:
            self.specs.update(batch.specs)
            self.throttles.update(batch.throttles)
            if batch.holds is not None:
                self.holds = batch.holds
            if batch.routing is not None and self.pipeline is not None:
                self.pipeline.set_table(batch.routing)
            for job in batch.jobs:
                if job.transactional:
                    self._transactional.append(job)
                    self._waiting[job.spec_key] += 1
                else:
                    self._bulk.append(job)
        self._arrived.set()

    def spec_for(self, job: Job) -> MessageSpec | None:
        """The spec to build ``job`` with (None if it has not arrived); a transactional
        message's is let go once its last waiting job has it."""
        spec = self.specs.get(job.spec_key)
        if job.transactional:
            self._waiting[job.spec_key] -= 1
            if self._waiting[job.spec_key] <= 0:
                del self._waiting[job.spec_key]
                self.specs.pop(job.spec_key, None)
        return spec

    async def take(self) -> list[Job] | None:
        """The next chunk of jobs to build, transactional ones first; None once the
        coordinator has said stop and nothing is left."""
        while not (self._transactional or self._bulk):
            if self.closed:
                return None
            self._arrived.clear()
            await self._arrived.wait()
        lane = self._transactional or self._bulk
        return [lane.popleft() for _ in range(min(_CHUNK, len(lane)))]


def _inbox_reader(
    conn: Connection, loop: asyncio.AbstractEventLoop, inbox: Inbox, index: int
) -> None:
    while True:
        try:
            item: WorkBatch | None = conn.recv()
        except (EOFError, OSError):
            # A coordinator that stops says so (None) before it closes the pipe.
            _coordinator_gone(index)
        loop.call_soon_threadsafe(inbox.put, item)
        if item is None:
            return


# What a chunk's messages are delivered together by: plan, lane, destination, and the message's
# own id for a job sent alone (else 0).
_GroupKey = tuple[Plan, bool, str, int]


async def _deliver(
    pipeline: Pipeline,
    key: _GroupKey,
    envelopes: list[Envelope],
    reporter: _Reporter,
    fault: Fault | None,
) -> None:
    plan, transactional, _destination, _alone = key
    if fault is not None:
        fault.strike_sending(e.rcpt_to for e in envelopes)
    try:
        outcomes = await pipeline.deliver(plan, envelopes, transactional=transactional)
    except Exception as exc:  # a route must not raise; if one does, nothing is lost
        log.exception("route %s raised; deferring %d messages", plan.route, len(envelopes))
        outcomes = [
            Outcome(e.message_id, OutcomeKind.DEFERRED, f"internal route error: {exc}")
            for e in envelopes
        ]
    reporter.send(outcomes)


def _suspended(job: Job, plan: Plan) -> Outcome:
    """Not tried: its route is suspended. Deferred, it waits (the scheduler claims it again
    once the route is resumed) and waiting never expires it."""
    reply = f"not tried: route {plan.route!r} is suspended"
    return Outcome(job.message_id, OutcomeKind.DEFERRED, reply, route=plan.route, held=True)


_BUILD_FAILED = "the agent could not build this message (an internal error, in its log)"


async def _prepare(
    pipeline: Pipeline,
    jobs: list[Job],
    inbox: Inbox,
    building: ctypes.c_int64,
    throttles: CampaignThrottles,
    fault: Fault | None = None,
) -> tuple[dict[_GroupKey, list[Envelope]], list[Outcome]]:
    """Build every job's message and pick its route; group them by (plan, lane, destination),
    a job to be sent alone in a group of its own.

    Building is CPU work on the loop's thread: it yields every few messages so that the open
    SMTP sessions keep moving (each message needs several round trips). ``building`` holds the
    id of the message being built, in memory the coordinator shares: if the worker dies, the
    coordinator knows which message it died on. An exception for one message fails that
    message only. A throttled campaign's messages wait for its token right before they are
    sent, not here: they may wait for a connection after this.
    """
    groups: dict[_GroupKey, list[Envelope]] = defaultdict(list)
    failed: list[Outcome] = []
    for n, job in enumerate(jobs, 1):
        if n % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
        spec = inbox.spec_for(job)
        if spec is None:
            failed.append(Outcome(job.message_id, OutcomeKind.DEFERRED, "spec not received yet"))
            continue
        building.value = job.message_id
        try:
            if fault is not None:
                fault.strike(job.rcpt_to)
            built = pipeline.build(job, spec)
            building.value = 0
            if isinstance(built, Outcome):
                failed.append(built)
            else:
                slot = inbox.throttles.get(job.campaign_id) if inbox.throttles else None
                if slot is not None:
                    built = replace(built, gate=throttles.gate(slot))
                plan = await pipeline.plan(job, spec, built)
                if inbox.holds.routes and inbox.holds.holds_route(job.tenant_id, plan.route):
                    failed.append(_suspended(job, plan))
                    continue
                destination = pipeline.destination(plan, built)
                alone = job.message_id if job.alone else 0
                groups[(plan, job.transactional, destination, alone)].append(built)
        except Exception:  # a bug for one message must not take the others down with it
            building.value = 0
            log.exception("message %d could not be built; it fails", job.message_id)
            failed.append(Outcome(job.message_id, OutcomeKind.FAILED, _BUILD_FAILED))
    return groups, failed


async def serve(
    settings: DeliveryInputs,
    conn: Connection,
    index: int,
    building: ctypes.c_int64,
    throttles: CampaignThrottles,
) -> None:
    """Take batches until the coordinator says stop, then finish what is under way."""
    fault = faults.from_environment()
    loop = asyncio.get_running_loop()
    inbox = Inbox()
    pipeline = inbox.pipeline = Pipeline.from_settings(settings, index)
    threading.Thread(target=_inbox_reader, args=(conn, loop, inbox, index), daemon=True).start()
    reporter = _Reporter(conn, loop, index)
    reporter.serving()
    tasks: set[asyncio.Task[None]] = set()
    one_at_a_time = asyncio.Lock()  # for the jobs sent alone

    async def deliver_alone(key: _GroupKey, envelopes: list[Envelope]) -> None:
        async with one_at_a_time:
            reporter.delivering([e.message_id for e in envelopes])
            await _deliver(pipeline, key, envelopes, reporter, fault)

    try:
        while (jobs := await inbox.take()) is not None:
            groups, failed = await _prepare(pipeline, jobs, inbox, building, throttles, fault)
            reporter.send(failed)
            reporter.delivering(
                [e.message_id for key, group in groups.items() if not key[3] for e in group]
            )
            for key, envelopes in groups.items():
                task = asyncio.create_task(
                    deliver_alone(key, envelopes)
                    if key[3]
                    else _deliver(pipeline, key, envelopes, reporter, fault)
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0)  # let the new deliveries start before the next chunk
        if tasks:
            await asyncio.wait(tasks)
        reporter.flush()
    finally:
        await pipeline.close()


def main(
    settings: DeliveryInputs,
    conn: Connection,
    index: int,
    parent: int,
    building: ctypes.c_int64,
    throttles: CampaignThrottles,
) -> None:
    """Entry point of a worker process started by the coordinator of pid ``parent``;
    ``building`` is the memory it shares with it for the id of the message being built, and
    ``throttles`` the campaigns' token buckets, which every worker shares."""
    _die_with(parent, index)
    # The coordinator decides when workers stop; Ctrl-C on the terminal reaches it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_handler()
    logs.configure(settings.log.level, settings.log.json_lines)
    log.debug("worker %d serving", index)
    event_loop.run(serve(settings, conn, index, building, throttles))
