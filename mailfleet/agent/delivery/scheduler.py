"""The scheduler: due messages → leased batches → workers; outcomes → group commits.

Transactional mail is claimed first and may use the whole in-flight window; bulk leaves a
reserve for it. Campaigns are served round-robin within their throttle. Messages are sharded
to workers by recipient domain, so each domain's connections and limits live in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mailfleet.agent.delivery import clock, outcomes
from mailfleet.agent.delivery.jobs import Job, MessageSpec, Report, WorkBatch
from mailfleet.agent.delivery.settings import DeliveryInputs
from mailfleet.agent.delivery.suspended import Suspended
from mailfleet.agent.delivery.throttle_suspensions import ThrottleSuspensions
from mailfleet.agent.delivery.worker_pool import WorkerPool
from mailfleet.agent.errors import ConfigError
from mailfleet.agent.feedback import record
from mailfleet.agent.model.send_window import SendWindow
from mailfleet.agent.routes.base import Outcome, OutcomeKind
from mailfleet.agent.routes.source_ips import pool_of_route, routes_by_pool
from mailfleet.agent.routing.table import RoutingState
from mailfleet.agent.store import (
    ab_tests,
    campaigns,
    contents,
    queue,
    suppression,
    suspensions,
    tenants,
)
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.queue import Claimed, Settled
from mailfleet.agent.store.space import DiskFull
from mailfleet.agent.store.suspensions import EVERY_TENANT, Holds, Kind, Suspension
from mailfleet.agent.telemetry import metrics
from mailfleet.agent.telemetry.outcome_log import log_settled
from mailfleet.agent.validation import normalize_domain

log = logging.getLogger("mailfleet.agent.delivery")

_IDLE_WAIT = 0.1
# Freed slots are gathered this long before they are refilled.
_COALESCE = 0.05
# Outcomes wait at most this long after the last group was recorded: a crash repeats what was
# delivered and not yet recorded, so this is short; the store's group commit gathers more of
# them into one transaction when it is busy.
_SETTLE_EVERY = 0.01
_SWEEP_EVERY = 10.0
_COMPLETION_EVERY = 1.0
# Share of the in-flight window that bulk mail leaves free for transactional mail.
_TRANSACTIONAL_RESERVE = 0.1
# A message whose worker died this many times in a row with it under way (building or sending
# it) is failed, not handed out again.
CRASH_LIMIT = 3


@dataclass
class _Leased:
    message: Claimed
    worker: int
    lease_until: float
    mail_from: str
    generation: int = 0  # the pool's, when it was leased
    strikes: int = 0  # as stored, and counted on when its worker dies with it under way
    delivering: bool = False  # its worker said it is handing it to a route
    answered: bool = False  # its outcome has come back, to be recorded at the next settle


@dataclass
class _Bucket:
    """A campaign's throttle on claims: tokens refill at ``per_minute / 60`` a second, one
    second's worth at most, so a paused or idle campaign does not save up a burst. The rate
    holds at the wire by the workers' shared bucket in ``slot``; this one only keeps the
    scheduler from claiming much more than will leave soon."""

    per_minute: int
    slot: int
    tokens: float = 1.0
    stamp: float = field(default_factory=time.monotonic)

    def allowance(self, now: float) -> int:
        rate = self.per_minute / 60.0
        self.tokens = min(max(rate, 1.0), self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        return int(self.tokens)

    def spend(self, n: int) -> None:
        self.tokens -= n


@dataclass
class _Claim:
    """What one claiming pass found, with the specs the scheduler did not know yet."""

    messages: list[Claimed] = field(default_factory=list)
    specs: dict[str, MessageSpec] = field(default_factory=dict)
    field_sets: dict[int, tuple[str, ...]] = field(default_factory=dict)


def _spec_key(m: Claimed) -> str:
    if m.campaign_id is None:
        return f"t{m.content_id}"
    # An A/B test's share sends its variant; the remainder, claimed only once the winner is
    # picked, sends the campaign's spec with the winner applied.
    return f"c{m.campaign_id}" if m.variant is None else f"c{m.campaign_id}v{m.variant}"


def _shared(spec_key: str) -> bool:
    """Whether the spec is a campaign's, which the scheduler and each worker keep once sent."""
    return spec_key.startswith("c")


class Scheduler:
    """Feeds the worker pool from the store and records what comes back."""

    def __init__(
        self,
        settings: DeliveryInputs,
        store: Store,
        routing: RoutingState | None = None,
        suspended: Suspended | None = None,
    ) -> None:
        self._settings = settings
        self._d = settings.delivery
        self._store = store
        # The rules in force; the API replaces its table and workers get it with their next batch.
        self.routing = routing or RoutingState(settings)
        # The destinations and routes on hold; the API changes them, claims leave their mail.
        self.suspended = suspended or Suspended()
        # The ISPs' documented throttling replies, on which the scheduler suspends a domain.
        self._throttled = ThrottleSuspensions(settings.limits)
        self.pool = WorkerPool(settings, self._on_report, self._on_worker_exit)
        # The IP pool of each route, for the outcome counters and log lines.
        self._route_pools = pool_of_route(settings.routes)
        self._leased: dict[int, _Leased] = {}
        self._pending: list[Outcome] = []
        # (id, strikes) of messages leased to a worker that died: back to the queue
        self._orphans: list[tuple[int, int]] = []
        self._crashed: list[Settled] = []  # failed at CRASH_LIMIT strikes
        self._wake = asyncio.Event()
        self._specs: dict[str, MessageSpec] = {}
        self._windows: dict[int, SendWindow] = {}  # of the running campaigns that have one
        self._field_sets: dict[int, tuple[str, ...]] = {}
        self._buckets: dict[int, _Bucket] = {}
        # Campaigns whose route holds their messages (warm-up quota used) until a time.
        self._holds: dict[int, float] = {}
        self._rng = random.Random()
        self._stopping = asyncio.Event()
        # Set whenever run() is not running: stop() waits for it, so a pass under way ends
        # before the workers stop.
        self._not_running = asyncio.Event()
        self._not_running.set()
        self._last_sweep = self._last_completion = time.monotonic()
        self._last_settle = self._last_claim = 0.0
        self.settled_total = 0

    @property
    def in_flight(self) -> int:
        """Messages leased to workers and not answered yet."""
        return len(self._leased)

    async def check(self, settings: DeliveryInputs) -> None:
        """Refuse settings (SIGHUP) that take away a route or IP pool that messages still to
        be sent asked for themselves: they would fail instead of going out."""
        routes, pools = await self._store.read(contents.requested_destinations)
        gone = sorted(r for r in routes if r not in settings.routes)
        if gone:
            raise ConfigError(
                f"queued messages asked for route {', '.join(map(repr, gone))}"
                " (X-Mailfleet-Route); keep it until they are sent"
            )
        senders = routes_by_pool(settings.routes)
        gone = sorted(p for p in pools if p not in senders)
        if gone:
            raise ConfigError(
                f"queued messages asked for IP pool {', '.join(map(repr, gone))}"
                " (X-Mailfleet-Pool); keep a direct MX route sending from it until they are sent"
            )

    async def reload(self, settings: DeliveryInputs) -> None:
        """Use new delivery settings, routes, routing rules and limits from the next claim on
        (SIGHUP): new workers are built from them and sent the new rules with their first
        batch.

        Messages in flight finish on the workers that hold them; nothing queued moves.
        """
        self.routing.reload(settings)
        if settings.delivery.workers != self._d.workers:
            log.warning("reload: delivery.workers changes at the next restart")
            settings = settings.model_copy(
                update={
                    "delivery": settings.delivery.model_copy(update={"workers": self._d.workers})
                }
            )
        self._settings = settings
        self._d = settings.delivery
        self._route_pools = pool_of_route(settings.routes)
        self._throttled.reload(settings.limits)
        self.pool.replace(settings)

    def stats(self) -> metrics.DeliveryStats:
        """Workers, their restarts and the messages in flight, for ``/metrics``."""
        return metrics.DeliveryStats(
            self.pool.size,
            self.pool.restarts,
            len(self._leased),
            tuple(self.pool.pids()),
            self.pool.retiring_pids(),
        )

    async def run(self) -> None:
        """Recover leases left by a crash, start the workers and schedule until stopped."""
        self._not_running.clear()
        try:
            await self._schedule()
        finally:
            self._not_running.set()

    async def _schedule(self) -> None:
        try:
            returned = await self._store.write(
                lambda c: queue.reset_leases(c, time.time(), every=True), wait_for_space=True
            )
        except DiskFull:  # stopped before space came back: nothing was leased yet
            return
        if returned:
            log.info("returned %d messages leased before the last stop to the queue", returned)
        self.pool.start()
        while not self._stopping.is_set():
            if (
                self._orphans
                or self._crashed
                or len(self._pending) >= self._d.batch_size
                or (self._pending and time.monotonic() - self._last_settle >= _SETTLE_EVERY)
            ):
                await self._settle_pending()
            dispatched = await self._claim_and_dispatch()
            await self._housekeeping()
            if dispatched:
                continue
            # Outcomes arrive a destination at a time; settling them in groups at most every
            # _SETTLE_EVERY seconds keeps the store's transactions few.
            if self._pending:
                await asyncio.sleep(self._last_settle + _SETTLE_EVERY - time.monotonic())
                continue
            # Wake for outcomes, for a stop, and (with room to fill) for others' commits: new
            # uploads and sends. Our own commits are behind us, so they cannot wake us in a loop;
            # one that raced the claim above waits for the timeout at most.
            self._wake.clear()
            triggers = [self._wake, self._stopping]
            if len(self._leased) < self._d.max_in_flight:
                triggers.append(self._store.commits.ticket())
            waits = [asyncio.ensure_future(e.wait()) for e in triggers]
            await asyncio.wait(waits, timeout=_IDLE_WAIT, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    async def serving(self) -> None:
        """Return once every worker has started.

        Taking mail only from then on, a restarted agent sends it as it comes: what it took
        while its workers started would leave in one burst, and a crash during a burst
        repeats more of it."""
        await self.pool.serving.wait()

    async def stop(self, grace: float) -> None:
        """Stop claiming, let the workers finish (up to ``grace`` s) and record their outcomes."""
        self._stopping.set()
        # A pass under way (a claim waiting for the store) must not hand its messages to a
        # pool that has stopped: it ends at its next look at _stopping, its messages sent.
        await self._not_running.wait()
        await self.pool.stop(grace)
        await asyncio.sleep(0)  # outcomes read just before the pipes closed
        await self._settle_pending()

    # -- outcomes ---------------------------------------------------------------------------

    def _on_report(self, worker: int, report: Report) -> None:
        for mid in report.delivering:
            entry = self._leased.get(mid)
            if entry is not None:
                entry.delivering = True
        for outcome in report.outcomes:
            if (entry := self._leased.get(outcome.message_id)) is not None:
                entry.answered = True
        self._pending.extend(report.outcomes)
        self._wake.set()

    def _on_worker_exit(self, worker: int, building: int) -> None:
        generation = self.pool.generation
        # A message whose outcome came back before the death stays leased until that outcome
        # is recorded: struck and returned to the queue, it would be sent a second time.
        held = [
            (mid, entry)
            for mid, entry in self._leased.items()
            if entry.worker == worker and entry.generation == generation and not entry.answered
        ]
        # Building runs alone on the worker's thread: a death then is the built message's.
        # Otherwise every message it was sending counts a strike; sent alone from then on,
        # the one that kills it is soon the only one still striking.
        if building in self._leased:
            struck = {building}
        else:
            struck = {mid for mid, entry in held if entry.delivering}
        orphans = []
        for mid, entry in held:
            del self._leased[mid]
            if mid in struck:
                entry.strikes += 1
                if entry.strikes >= CRASH_LIMIT:
                    log.error(
                        "message %d crashed worker %d %d times; it fails and is kept for"
                        " inspection",
                        mid,
                        worker,
                        entry.strikes,
                        extra={"message_id": mid},
                    )
                    self._crashed.append(
                        outcomes.crashed_worker(entry.message, entry.strikes, entry.mail_from)
                    )
                    continue
            orphans.append((mid, entry.strikes))
        log.warning(
            "worker %d died with %d messages in flight (%d under way); they return to the queue",
            worker,
            len(orphans),
            len(struck),
        )
        self._orphans.extend(orphans)
        self._wake.set()
        self.pool.restart(worker)

    async def _settle_pending(self) -> None:
        if self._orphans:
            orphans, self._orphans = self._orphans, []
            await self._write_results(
                lambda c: queue.requeue(c, orphans, time.time()), len(orphans)
            )
        if not (self._pending or self._crashed):
            return
        self._last_settle = time.monotonic()
        results, self._pending = self._pending, []
        now = time.time()
        settled, self._crashed = self._crashed, []
        made: dict[str, Suspension] = {}
        for outcome in results:
            entry = self._leased.pop(outcome.message_id, None)
            if entry is None:  # its lease expired and it was handed out again
                continue
            if outcome.kind is OutcomeKind.DEFERRED and outcome.reply[:1] == "4":
                self._throttling(entry.message.email, outcome.reply, now, made)
            cid = entry.message.campaign_id
            if outcome.held and cid is not None:
                # Its route has no capacity until then (a warm-up quota): claiming more of the
                # campaign would only hand the workers messages to hold.
                self._holds[cid] = max(self._holds.get(cid, 0.0), now + outcome.retry_after)
            settled.append(
                outcomes.settle(
                    entry.message, outcome, now, self._d, self._rng, mail_from=entry.mail_from
                )
            )
        if settled:
            feedback = self._settings.feedback

            def write(conn: sqlite3.Connection) -> None:
                queue.settle(conn, settled, now)
                record.settled(conn, settled, now, feedback)
                for s in made.values():
                    suspensions.suspend(conn, s)

            if not await self._write_results(write, len(settled)):
                return
            if made:
                self._put_in_force(made)
            self.settled_total += len(settled)
            if not self._leased and any(r.message.campaign_id is not None for r in settled):
                # The last answer the scheduler waited for: a campaign may have just ended, so
                # the completion check runs now rather than up to a second later.
                self._last_completion = 0.0
            metrics.record_settled(settled, self._route_pools)
            log_settled(settled, self._route_pools)

    def _throttling(self, email: str, reply: str, now: float, made: dict[str, Suspension]) -> None:
        """Add to ``made`` the suspension of ``email``'s domain that ``reply`` calls for (an
        ISP's documented throttling reply), unless the domain is already held back."""
        domain = normalize_domain(email.rpartition("@")[2])
        held = domain in made or self.suspended.holds(now).holds_domain(EVERY_TENANT, domain)
        if (suspension := self._throttled.observe(domain, reply, now, held)) is not None:
            made[domain] = suspension

    def _put_in_force(self, made: dict[str, Suspension]) -> None:
        """Hold back the domains just suspended (recorded in the store) from the next claim."""
        replaced = {(EVERY_TENANT, Kind.DOMAIN, name) for name in made}
        kept = [s for s in self.suspended.all if (s.tenant_id, s.kind, s.name) not in replaced]
        self.suspended.replace(kept + list(made.values()))
        for s in made.values():
            log.warning("%s suspended: %s", s.name, s.reason)

    async def _write_results(self, fn: Callable[[sqlite3.Connection], None], count: int) -> bool:
        """Record what became of leased messages; while the disk is full the write waits in
        memory (the scheduler claims nothing meanwhile), so no result is lost and nothing is
        sent twice. Only a stop on a full disk gives up: those messages go out again after
        the restart, as after a crash."""
        try:
            await self._store.write(fn, durable=False, wait_for_space=True)
        except DiskFull:
            log.warning(
                "disk full: the results of %d messages were not recorded;"
                " they will be sent again after the restart",
                count,
            )
            return False
        return True

    # -- claiming ---------------------------------------------------------------------------

    def _claim(
        self,
        conn: sqlite3.Connection,
        room: int,
        bulk_room: int,
        now: float,
        in_flight: Counter[int | None],
        holds: Holds,
    ) -> _Claim:
        """Runs on the writer thread while the event loop awaits it; ``in_flight`` counts the
        messages leased per campaign, ``holds`` what the suspensions hold back."""
        lease_until = now + self._d.lease_seconds
        found = _Claim()
        found.messages += queue.claim_transactional(conn, room, now, lease_until, holds)
        left = min(room - len(found.messages), bulk_room)
        if left > 0:
            found.messages += queue.claim_deferred(conn, left, now, lease_until, holds)
        left = min(room - len(found.messages), bulk_room - len(found.messages))
        runnable = queue.runnable_campaigns(conn, now) if left > 0 else []
        mono = time.monotonic()
        runnable = [c for c in runnable if self._holds.get(c.id, 0.0) <= now]
        if any(c.windowed for c in runnable):
            runnable = self._inside_windows(conn, runnable)
        throttles = self.pool.throttles
        for i, (cid, per_minute, sample_only, _) in enumerate(runnable):
            share = max(1, left // (len(runnable) - i))
            if per_minute:
                slot = throttles.assign(cid, per_minute)
                bucket = self._buckets.setdefault(cid, _Bucket(per_minute, slot))
                bucket.per_minute, bucket.slot = per_minute, slot
                # No more leased than leaves in two seconds: what waits in the workers for
                # its tokens would keep going out after a pause.
                held = max(2, 2 * per_minute // 60) - in_flight[cid]
                share = min(share, bucket.allowance(mono), held)
            elif self._buckets.pop(cid, None) is not None:  # its throttle was lifted
                throttles.release(cid)
            if share <= 0:
                continue
            got = queue.claim_campaign(
                conn, cid, share, now, lease_until, holds, sample_only=sample_only
            )
            if per_minute:
                self._buckets[cid].spend(len(got))
            found.messages += got
            left -= len(got)
            if left <= 0:
                break
        for m in found.messages:
            key = _spec_key(m)
            if key not in found.specs and (m.campaign_id is None or key not in self._specs):
                found.specs[key] = self._load_spec(conn, m)
            fs = m.field_set_id
            if fs is not None and fs not in self._field_sets and fs not in found.field_sets:
                found.field_sets[fs] = queue.field_names(conn, fs)

        def tags_of(m: Claimed) -> tuple[str, ...]:
            key = _spec_key(m)
            return (found.specs.get(key) or self._specs[key]).tags

        # Checked again at dequeue: an address suppressed after its message was queued (an
        # unsubscribe, a complaint) is not sent to, in the same transaction as the claim.
        found.messages = suppression.screen_claimed(conn, found.messages, tags_of, now)
        return found

    def _inside_windows(
        self, conn: sqlite3.Connection, runnable: list[queue.Runnable]
    ) -> list[queue.Runnable]:
        """The campaigns whose send window (if any) is open now; a campaign's window is read
        once, as it cannot change."""
        now = clock.now()
        open_ = []
        for c in runnable:
            if c.windowed and c.id not in self._windows:
                window = campaigns.get_spec(conn, c.id).send_window
                assert window is not None
                self._windows[c.id] = window
            if not c.windowed or self._windows[c.id].is_open(now):
                open_.append(c)
        return open_

    @staticmethod
    def _load_spec(conn: sqlite3.Connection, m: Claimed) -> MessageSpec:
        tenant = tenants.get_tenant(conn, m.tenant_id).name
        if m.campaign_id is not None:
            spec = campaigns.get_spec(conn, m.campaign_id)
            sender, content = spec.sender, spec.content
            if spec.ab_test is not None:
                variant = m.variant
                if variant is None:
                    variant = ab_tests.winner(conn, m.campaign_id)
                if variant is not None:
                    sender, content = spec.ab_test.variants[variant].apply(sender, content)
            return MessageSpec(
                sender, content, tenant=tenant, tags=spec.tags, tracking=spec.tracking
            )
        assert m.content_id is not None
        c = contents.get(conn, m.content_id)
        return MessageSpec(
            c.sender,
            c.content,
            c.raw_mime,
            c.route,
            pool=c.pool,
            tenant=tenant,
            tags=c.tags,
            tracking=c.tracking,
        )

    async def _claim_and_dispatch(self) -> int:
        if self._stopping.is_set():
            return 0
        room = self._d.max_in_flight - len(self._leased)
        if room <= 0:
            return 0
        mono = time.monotonic()
        if room < self._d.batch_size // 4 and mono - self._last_claim < _COALESCE:
            return 0  # a few freed slots: wait for more rather than claim in dribs
        self._last_claim = mono
        bulk_room = int(self._d.max_in_flight * (1 - _TRANSACTIONAL_RESERVE)) - len(self._leased)
        room = min(room, self._d.batch_size * self.pool.size)
        now = time.time()
        in_flight: Counter[int | None] = Counter()
        if self._buckets:
            in_flight.update(e.message.campaign_id for e in self._leased.values())
        # Read here on the loop, where the API changes them, not on the writer thread.
        holds = self.suspended.holds(now)
        try:
            found = await self._store.write(
                lambda c: self._claim(c, room, max(bulk_room, 0), now, in_flight, holds),
                durable=False,
            )
        except DiskFull:  # a lease needs a write: nothing is claimed until space is back
            return 0
        # A campaign's spec serves all its messages and stays; a transactional message's is its
        # own (one per submission), so it goes with the batch that carries its message and is
        # forgotten: kept, every message ever sent would stay in memory here and in the workers.
        self._specs.update((k, v) for k, v in found.specs.items() if _shared(k))
        self._field_sets.update(found.field_sets)
        if found.messages:
            await self._dispatch(found.messages, found.specs, now + self._d.lease_seconds)
        return len(found.messages)

    async def _dispatch(
        self, messages: Iterable[Claimed], claimed: dict[str, MessageSpec], lease_until: float
    ) -> None:
        # Transactional jobs travel in batches of their own, which workers take first.
        batches: dict[tuple[int, bool], WorkBatch] = {}
        table = self.routing.table
        for m in messages:
            domain = m.email.rpartition("@")[2].lower()
            worker = zlib.crc32(domain.encode()) % self.pool.size
            transactional = m.campaign_id is None
            batch = batches.setdefault((worker, transactional), WorkBatch([]))
            if self._buckets and (bucket := self._buckets.get(m.campaign_id or 0)):
                batch.throttles[m.campaign_id or 0] = bucket.slot
            key = _spec_key(m)
            spec = claimed.get(key) or self._specs[key]
            if not (_shared(key) and self.pool.knows(worker, key)):
                batch.specs[key] = spec
            names = self._field_sets.get(m.field_set_id, ()) if m.field_set_id else ()
            job = Job(
                m.id,
                key,
                m.email,
                m.payload,
                names,
                transactional,
                tenant_id=m.tenant_id,
                campaign_id=m.campaign_id or 0,
                alone=m.strikes > 0,
            )
            batch.jobs.append(job)
            self._leased[m.id] = _Leased(
                m, worker, lease_until, spec.sender.from_address, self.pool.generation, m.strikes
            )
        stale = {w for w, _ in batches if not self.pool.knows(w, f"routing:{table.version}")}
        holds = self.suspended.holds(time.time())
        unheld = {
            w for w, _ in batches if not self.pool.knows(w, f"holds:{self.suspended.version}")
        }
        for (worker, _), batch in batches.items():
            if worker in stale:  # every batch carries it: either may be built first
                batch.routing = table
            if worker in unheld:
                batch.holds = holds
            if not self.pool.send(worker, batch):  # it just died: requeued on the next pass
                for job in batch.jobs:
                    if (entry := self._leased.pop(job.message_id, None)) is not None:
                        self._orphans.append((job.message_id, entry.strikes))

    # -- housekeeping -----------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        mono = time.monotonic()
        if mono - self._last_sweep >= _SWEEP_EVERY:
            self._last_sweep = mono
            if self._pending:  # answered, only not recorded yet (the disk was full): not expired
                await self._settle_pending()
            now = time.time()
            expired = [mid for mid, e in self._leased.items() if e.lease_until < now]
            for mid in expired:
                del self._leased[mid]
            if expired:
                log.warning(
                    "%d leases expired unanswered; their messages return to the queue", len(expired)
                )
                # On a full disk the write is refused; the next sweep returns them.
                with contextlib.suppress(DiskFull):
                    await self._store.write(lambda c: queue.reset_leases(c, now), durable=False)
        if mono - self._last_completion >= _COMPLETION_EVERY:
            self._last_completion = mono
            now = time.time()

            decided_at = clock.now()
            picked: list[tuple[int, int]] = []

            def complete(conn: sqlite3.Connection) -> list[int]:
                picked.extend(campaigns.decide_ab_tests(conn, decided_at))
                running = [c.id for c in queue.runnable_campaigns(conn, now)]
                return queue.complete_finished(conn, running, now)

            try:
                completed = await self._store.write(complete)
            except DiskFull:  # checked again in a second
                completed, picked = [], []
            for cid, winner in picked:
                log.info(
                    "campaign %d: A/B test won by variant %s; sending it to the rest",
                    cid,
                    chr(ord("A") + winner),
                    extra={"campaign_id": cid},
                )
            for cid in completed:
                if self._buckets.pop(cid, None) is not None:
                    self.pool.throttles.release(cid)
                self._holds.pop(cid, None)
                self._windows.pop(cid, None)
                log.info("campaign %d completed", cid, extra={"campaign_id": cid})
