"""The agent's Prometheus metrics, served at ``/metrics`` on its HTTP server.

Every part of the agent records into the metrics defined here, e.g. SMTP intake::

    from mailfleet.agent.telemetry import metrics
    metrics.INTAKE_SESSIONS.labels(listener="submission", result="accepted").inc()

Counters live in the coordinator process (workers report outcomes to it, so it sees them all);
the workers' memory and CPU are read from ``/proc`` at each scrape (``processes``). Queue
depths are read from the store at each scrape, so they are never stale.
"""

from __future__ import annotations

import platform
import sqlite3
import time
from collections import Counter as TallyCounter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mailfleet.agent import __version__
from mailfleet.agent.model import EventType, Lane, MessageState
from mailfleet.agent.store import messages
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.queue import Settled
from mailfleet.agent.telemetry.processes import ProcessTally

# No *_created series: they double the series count and dashboards never use them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in the library
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

OUTCOMES = Counter(
    "mailfleet_outcomes",
    "Delivery attempts by how they ended (rate() of it is outcomes per second).",
    ["outcome", "lane"],
    registry=REGISTRY,
)
DEFERRALS = Counter(
    "mailfleet_destination_deferrals",
    "Deferred delivery attempts by recipient domain.",
    ["destination"],
    registry=REGISTRY,
)
BOUNCES = Counter(
    "mailfleet_destination_bounces",
    "Bounced messages by recipient domain.",
    ["destination"],
    registry=REGISTRY,
)
INTAKE_SESSIONS = Counter(
    "mailfleet_intake_sessions",
    "SMTP intake sessions by listener and result (refused, accepted, error, auth_failed,"
    " rejected, idle; see mailfleet.agent.intake.results).",
    ["listener", "result"],
    registry=REGISTRY,
)
QUEUE = Gauge(
    "mailfleet_queue_messages",
    "Messages not yet final, by state (queued, in_flight, deferred) and lane.",
    ["state", "lane"],
    registry=REGISTRY,
)
STORE_DISK_FULL = Gauge(
    "mailfleet_store_disk_full",
    "1 while the store cannot write for lack of disk space (new mail is refused), else 0.",
    registry=REGISTRY,
)
STORE_HELD_WRITES = Gauge(
    "mailfleet_store_held_writes",
    "Writes (groups of delivery results) held in memory until the disk has space again.",
    registry=REGISTRY,
)
OLDEST_QUEUED = Gauge(
    "mailfleet_oldest_queued_seconds",
    "Age of the oldest message not yet final (queued, in flight or deferred); 0 when none.",
    registry=REGISTRY,
)
ROUTE_OUTCOMES = Counter(
    "mailfleet_route_outcomes",
    "Delivery attempts by the route that made them, the IP pool it sends from (empty when"
    " none) and how they ended.",
    ["route", "pool", "outcome"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "mailfleet_delivery_latency_seconds",
    "Time from a message being queued to its final outcome (delivered, bounced, failed).",
    ["lane"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "mailfleet_build_info",
    "Always 1; its labels say which release and Python run the agent.",
    ["version", "python"],
    registry=REGISTRY,
)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)
WEBHOOK_POSTS = Counter(
    "mailfleet_webhook_posts",
    "Event webhook POSTs by result (delivered, failed).",
    ["result"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS = Counter(
    "mailfleet_webhook_events_delivered",
    "Events that event webhook endpoints took.",
    registry=REGISTRY,
)
WEBHOOK_BACKLOG = Gauge(
    "mailfleet_webhook_backlog_events",
    "Events the event webhook endpoints (disabled ones too) have still to get, added up.",
    registry=REGISTRY,
)
# The gRPC server's figures under the names go-grpc-prometheus and py-grpc-prometheus use,
# so stock dashboards and alerts work on them.
_GRPC_LABELS = ["grpc_type", "grpc_service", "grpc_method"]
GRPC_STARTED = Counter(
    "grpc_server_started", "gRPC calls started on the server.", _GRPC_LABELS, registry=REGISTRY
)
GRPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from a gRPC call's start to its end (streams: the whole stream).",
    _GRPC_LABELS,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
GRPC_HANDLED = Counter(
    "grpc_server_handled",
    "Finished gRPC calls by status code.",
    [*_GRPC_LABELS, "grpc_code"],
    registry=REGISTRY,
)

# Recipient domains get their own label up to this many; the rest share "other", so a list
# with a million distinct domains cannot blow up the number of time series.
MAX_DESTINATIONS = 500
_destinations: set[str] = set()

_OUTCOME_NAMES = {
    EventType.MESSAGE_DELIVERED: "delivered",
    EventType.MESSAGE_DEFERRED: "deferred",
    EventType.MESSAGE_BOUNCED: "bounced",
    EventType.MESSAGE_FAILED: "failed",
}
_QUEUE_STATES = {
    MessageState.QUEUED: "queued",
    MessageState.IN_FLIGHT: "in_flight",
    MessageState.DEFERRED: "deferred",
}
_LANES = {Lane.TRANSACTIONAL: "transactional", Lane.BULK: "bulk"}


def destination_label(email: str) -> str:
    """The ``destination`` label for a recipient: its domain, or "other" past the cap."""
    domain = email.rpartition("@")[2].lower()
    if domain in _destinations:
        return domain
    if len(_destinations) < MAX_DESTINATIONS:
        _destinations.add(domain)
        return domain
    return "other"


def record_settled(results: Iterable[Settled], pools: Mapping[str, str]) -> None:
    """Count the outcomes the scheduler has just committed; ``pools`` names the IP pool each
    route sends from (routes without one are left out).

    Summed per label set first: a commit settles hundreds of messages, and each labels()
    lookup costs more than the counting."""
    outcomes: TallyCounter[tuple[str, str]] = TallyCounter()
    by_route: TallyCounter[tuple[str, str]] = TallyCounter()
    deferrals: TallyCounter[str] = TallyCounter()
    bounces: TallyCounter[str] = TallyCounter()
    now = time.time()
    latency = {lane: DELIVERY_LATENCY.labels(lane=lane) for lane in _LANES.values()}
    for r in results:
        outcome = _OUTCOME_NAMES.get(r.event)
        if outcome is None:
            continue
        lane = "transactional" if r.message.campaign_id is None else "bulk"
        outcomes[outcome, lane] += 1
        by_route[r.attrs.get("route", "none"), outcome] += 1
        if r.event != EventType.MESSAGE_DEFERRED:
            latency[lane].observe(max(now - r.message.created_at, 0.0))
        if r.event == EventType.MESSAGE_DEFERRED:
            deferrals[destination_label(r.message.email)] += 1
        elif r.event == EventType.MESSAGE_BOUNCED:
            bounces[destination_label(r.message.email)] += 1
    for (outcome, lane), n in outcomes.items():
        OUTCOMES.labels(outcome=outcome, lane=lane).inc(n)
    for (route, outcome), n in by_route.items():
        ROUTE_OUTCOMES.labels(route=route, pool=pools.get(route, ""), outcome=outcome).inc(n)
    for destination, n in deferrals.items():
        DEFERRALS.labels(destination=destination).inc(n)
    for destination, n in bounces.items():
        BOUNCES.labels(destination=destination).inc(n)


@dataclass(frozen=True)
class QueueFigures:
    """The queue as a scrape reads it from the store."""

    # Messages not yet final by (state, lane) label values, zeros included.
    depths: dict[tuple[str, str], int]
    # When the oldest message not yet final was queued (None: the queue is empty).
    oldest_created_at: float | None


def queue_figures(conn: sqlite3.Connection) -> QueueFigures:
    """How many messages wait in each state and lane, and since when the oldest has."""
    depths = {(s, lane): 0 for s in _QUEUE_STATES.values() for lane in _LANES.values()}
    oldest: float | None = None
    found = messages.count_by_state_and_lane(conn, _QUEUE_STATES)
    for (state, lane), (count, created_at) in found.items():
        depths[(_QUEUE_STATES[state], _LANES[lane])] = count
        oldest = created_at if oldest is None else min(oldest, created_at)
    return QueueFigures(depths, oldest)


def queue_depths(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """Messages not yet final by (state, lane) label values, zeros included."""
    return queue_figures(conn).depths


@dataclass(frozen=True)
class DeliveryStats:
    """What the scheduler knows about its workers at the moment of a scrape."""

    workers: int
    worker_restarts: int
    in_flight: int
    # Process ids by worker slot (None: not started yet), and of the workers replaced on a
    # reload that are still finishing their deliveries.
    worker_pids: tuple[int | None, ...] = ()
    retiring_pids: tuple[int, ...] = ()


class _DeliveryCollector(Collector):
    """Reads the running scheduler's figures at each scrape (nothing before it runs)."""

    def __init__(self) -> None:
        self.stats: Callable[[], DeliveryStats] | None = None
        self._processes = ProcessTally()

    def collect(self) -> Iterable[Metric]:
        if self.stats is None:
            return
        s = self.stats()
        yield GaugeMetricFamily("mailfleet_workers", "Worker processes configured.", s.workers)
        yield CounterMetricFamily(
            "mailfleet_worker_restarts",
            "Worker processes that died and were started again.",
            s.worker_restarts,
        )
        yield GaugeMetricFamily(
            "mailfleet_in_flight_messages",
            "Messages leased to workers and not answered yet.",
            s.in_flight,
        )
        yield from self._processes.collect(s.worker_pids, s.retiring_pids)


_delivery = _DeliveryCollector()
REGISTRY.register(_delivery)

Mount = Callable[[web.Application], None]


def mount(store: Store, stats: Callable[[], DeliveryStats]) -> Mount:
    """The ``/metrics`` route for the agent's HTTP server (see
    ``mailfleet.agent.web.server.Mount``)."""
    _delivery.stats = stats

    async def scrape(request: web.Request) -> web.Response:
        STORE_DISK_FULL.set(1 if store.space.full else 0)
        STORE_HELD_WRITES.set(store.space.held)
        queue = await store.read(queue_figures)
        for (state, lane), count in queue.depths.items():
            QUEUE.labels(state=state, lane=lane).set(count)
        oldest = queue.oldest_created_at
        OLDEST_QUEUED.set(0.0 if oldest is None else max(time.time() - oldest, 0.0))
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    def add(app: web.Application) -> None:
        app.router.add_get("/metrics", scrape)

    return add
