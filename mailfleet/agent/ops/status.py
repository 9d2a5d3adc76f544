"""``mailfleet-agent status``: queue, rates, workers and listeners of an agent on this machine.

The queue and the rates come from the store (read only, so it works whether the agent runs or
not); workers come from the running agent's ``/metrics``; listeners are probed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import time
import urllib.request
from dataclasses import asdict, dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.model import EventType
from mailfleet.agent.store import campaigns, events
from mailfleet.agent.store.db import read_once
from mailfleet.agent.telemetry.metrics import queue_depths
from mailfleet.agent.validation import split_host_port

_RATE_WINDOWS = (60, 3600)
_OUTCOMES = {
    EventType.MESSAGE_DELIVERED: "delivered",
    EventType.MESSAGE_DEFERRED: "deferred",
    EventType.MESSAGE_BOUNCED: "bounced",
    EventType.MESSAGE_FAILED: "failed",
}


@dataclass
class Status:
    """Everything ``status`` shows; ``asdict`` of it is the ``--json`` output."""

    queue: dict[str, int] = field(default_factory=dict)
    running_campaigns: int = 0
    # outcomes per window ("1m", "1h"): {"delivered": n, ...}
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    listeners: dict[str, bool] = field(default_factory=dict)
    workers: int | None = None
    worker_restarts: int | None = None
    in_flight: int | None = None


def outcome_counts(conn: sqlite3.Connection, since: float) -> dict[str, int]:
    """Outcomes recorded since ``since``, by name."""
    counts = dict.fromkeys(_OUTCOMES.values(), 0)
    for type_, n in events.counts_since(conn, since).items():
        if (name := _OUTCOMES.get(type_)) is not None:
            counts[name] = n
    return counts


def _listening(listen: str) -> bool:
    host, port = split_host_port(listen)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard listener answers on loopback
        host = "127.0.0.1"
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _live_figures(settings: AgentSettings, status: Status) -> None:
    host, port = split_host_port(settings.http.listen)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - as above
        host = "127.0.0.1"
    url = f"http://{host}:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mailfleet_workers":
                status.workers = int(sample.value)
            elif sample.name == "mailfleet_worker_restarts_total":
                status.worker_restarts = int(sample.value)
            elif sample.name == "mailfleet_in_flight_messages":
                status.in_flight = int(sample.value)


def collect(settings: AgentSettings, now: float | None = None) -> Status:
    """Read the store, probe the listeners and ask the running agent for its figures."""
    now = time.time() if now is None else now
    status = Status()

    def read(conn: sqlite3.Connection) -> None:
        status.queue = {f"{s}/{lane}": n for (s, lane), n in queue_depths(conn).items()}
        status.running_campaigns = campaigns.count_running(conn)
        for window in _RATE_WINDOWS:
            label = f"{window // 60}m" if window < 3600 else f"{window // 3600}h"
            status.outcomes[label] = outcome_counts(conn, now - window)

    read_once(settings.db_path, read)
    status.listeners = {
        f"gRPC {settings.grpc.listen}": _listening(settings.grpc.listen),
        f"HTTP {settings.http.listen}": _listening(settings.http.listen),
    }
    for smtp in settings.intake.listeners:
        listen = (
            f"[{smtp.address}]:{smtp.port}"
            if ":" in smtp.address
            else (f"{smtp.address}:{smtp.port}")
        )
        status.listeners[f"SMTP {listen} ({smtp.tls})"] = _listening(listen)
    _live_figures(settings, status)
    return status


def render(status: Status) -> str:
    """The status as an operator reads it."""
    lines = ["queue:"]
    lines += [f"  {name:24} {n:>10,}" for name, n in status.queue.items()]
    lines.append(f"running campaigns: {status.running_campaigns}")
    for window, counts in status.outcomes.items():
        per_second = counts["delivered"] / (60 if window == "1m" else 3600)
        summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        lines.append(f"last {window}: {summary} ({per_second:.1f} delivered/s)")
    if status.workers is None:
        lines.append("workers: unknown (the agent is not running or its HTTP port is closed)")
    else:
        lines.append(
            f"workers: {status.workers}, restarts {status.worker_restarts}, "
            f"in flight {status.in_flight}"
        )
    lines.append("listeners:")
    lines += [f"  {name:32} {'up' if up else 'DOWN'}" for name, up in status.listeners.items()]
    return "\n".join(lines)


def to_json(status: Status) -> str:
    """The status as one JSON object."""
    return json.dumps(asdict(status), indent=2)
