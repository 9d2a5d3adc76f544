"""What ``mailfleet-agent queue`` prints for a person: aligned tables, ages in words."""

from __future__ import annotations

import time
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from mailfleet.v1 import messages_pb2, queue_pb2

_STATES = {
    messages_pb2.MESSAGE_STATE_QUEUED: "queued",
    messages_pb2.MESSAGE_STATE_DEFERRED: "deferred",
    messages_pb2.MESSAGE_STATE_IN_FLIGHT: "in flight",
}
_KINDS = {queue_pb2.SUSPENSION_KIND_DOMAIN: "domain", queue_pb2.SUSPENSION_KIND_ROUTE: "route"}
_REPLY_WIDTH = 60


def span(seconds: float) -> str:
    """A length of time as a person says it: 45s, 12m, 3h, 2d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _age(ts: Timestamp, now: float) -> str:
    return span(now - ts.seconds)


def _until(ts: Timestamp, now: float) -> str:
    return "now" if ts.seconds <= now else f"in {span(ts.seconds - now)}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as wide as their widest cell, two spaces apart."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def messages(found: Sequence[queue_pb2.QueuedMessage], now: float | None = None) -> str:
    """One line per waiting message, then how many."""
    if not found:
        return "the queue is empty"
    now = time.time() if now is None else now
    rows = []
    for m in found:
        state = _STATES.get(m.state, "?") + (" (suspended)" if m.suspended else "")
        nxt = _until(m.next_attempt_at, now) if m.HasField("next_attempt_at") else ""
        reply = m.last_reply if len(m.last_reply) <= _REPLY_WIDTH else m.last_reply[:59] + "…"
        rows.append(
            [str(m.id), state, _age(m.created_at, now), str(m.attempts), nxt, m.route or "-",
             m.email, reply]
        )  # fmt: skip
    header = ["ID", "STATE", "AGE", "TRIES", "NEXT TRY", "ROUTE", "RECIPIENT", "LAST REPLY"]
    n = len(found)
    return f"{table(header, rows)}\n{n:,} {'message' if n == 1 else 'messages'}"


def _counts(title: str, counts: Sequence[queue_pb2.QueueCount], now: float) -> str:
    rows = [
        [
            (c.name or "(not tried yet)") + (" (suspended)" if c.suspended else ""),
            f"{c.queued:,}",
            f"{c.deferred:,}",
            f"{c.in_flight:,}",
            _age(c.oldest_created_at, now),
        ]
        for c in counts
    ]
    return table([title, "QUEUED", "DEFERRED", "IN FLIGHT", "OLDEST"], rows)


def suspension(s: queue_pb2.Suspension, now: float | None = None) -> str:
    """One suspension in words: ``domain example.com (tenant 1) until resumed: their MX is
    down``."""
    now = time.time() if now is None else now
    lifts = "until resumed"
    if s.HasField("until"):
        at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(s.until.seconds))
        lifts = f"until {at} (in {span(s.until.seconds - now)})"
    who = "every tenant's mail" if s.tenant_id == 0 else f"tenant {s.tenant_id}"
    reason = f": {s.reason}" if s.reason else ""
    return f"{_KINDS.get(s.kind, '?')} {s.name} ({who}) {lifts}{reason}"


def suspensions(found: Sequence[queue_pb2.Suspension], now: float | None = None) -> str:
    """Each suspension on a line, or that there is none."""
    if not found:
        return "nothing is suspended"
    return "\n".join(suspension(s, now) for s in found)


def summary(s: queue_pb2.SummarizeQueueResponse, now: float | None = None) -> str:
    """Counts by domain and by route, the total, and the suspensions in force."""
    now = time.time() if now is None else now
    if not s.HasField("total"):
        parts = ["the queue is empty"]
    else:
        t = s.total
        parts = [
            _counts("DOMAIN", s.domains, now),
            _counts("ROUTE", s.routes, now),
            f"in all: {t.queued:,} queued, {t.deferred:,} deferred, {t.in_flight:,} in flight;"
            f" the oldest waits for {_age(t.oldest_created_at, now)}",
        ]
    if s.suspensions:
        parts.append("suspended:\n" + "\n".join(f"  {suspension(x, now)}" for x in s.suspensions))
    return "\n\n".join(parts)
