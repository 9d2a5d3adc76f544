"""What fleet-wide limits on Redis (``[shared] redis_url``) cost a destination's connection
pool: messages per second into Postfix's ``smtp-sink`` without them, with connection leases
only, and with leases and a rate (tokens taken a quarter of a second's worth at a time), on a
real ``redis-server`` on loopback.

``BENCH_FLEET_MESSAGES`` sets the count (default 20,000 of about 6 KB).
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import time

from bench.bench_routes import BATCH, _envelopes
from mailfleet.agent.routes.base import Envelope, OutcomeKind
from mailfleet.agent.routes.fleet import FleetDestination, FleetLimits
from mailfleet.agent.routes.settings import DestinationLimits
from mailfleet.agent.routes.smtp.connection_pool import DestinationPool
from mailfleet.agent.routes.smtp.session import SessionOptions, open_session
from tests.peers.redis import RedisServer
from tests.peers.smtp import free_port

MESSAGES = int(os.environ.get("BENCH_FLEET_MESSAGES", "20000"))
CONNECTIONS = 20
# High enough never to hold the run back: what is measured is the cost of asking.
PER_MINUTE = 60_000_000


async def _run(
    port: int, envelopes: list[Envelope], url: str, per_minute: int
) -> tuple[float, int]:
    fleet = FleetLimits(url, 0.25, prefix=f"bench{time.time_ns()}:") if url else None
    options = SessionOptions("127.0.0.1", port, "sink", "bench.test", 30.0)
    pool = DestinationPool(
        "sink",
        DestinationLimits(
            connections=CONNECTIONS, messages_per_connection=1000, per_minute=per_minute
        ),
        lambda: open_session(options),
        fleet=FleetDestination(fleet, "sink") if fleet else None,
    )
    batches = [envelopes[i : i + BATCH] for i in range(0, len(envelopes), BATCH)]
    started = time.perf_counter()
    results = await asyncio.gather(*(pool.deliver(b) for b in batches))
    elapsed = time.perf_counter() - started
    await pool.close()
    if fleet is not None:
        await fleet.close()
    return elapsed, sum(o.kind is OutcomeKind.DELIVERED for r in results for o in r)


def _measure(label: str, port: int, envelopes: list[Envelope], url: str, per_minute: int) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    elapsed, delivered = asyncio.run(_run(port, envelopes, url, per_minute))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    print(
        f"{label}: {delivered}/{len(envelopes)} delivered in {elapsed:.2f} s = "
        f"{delivered / elapsed:,.0f} msgs/s, client CPU {cpu / max(delivered, 1) * 1e6:.0f} us/msg",
        flush=True,
    )


def main() -> None:
    """Print msgs/s and CPU per message without and with the fleet's limits."""
    sink_binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.path.exists(sink_binary) or not shutil.which("redis-server"):
        print("smtp-sink (postfix) or redis-server not installed; skipped")
        return
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([sink_binary, *user, f"127.0.0.1:{port}", "1024"])
    try:
        with RedisServer() as redis:
            time.sleep(0.3)
            envelopes = _envelopes(MESSAGES)
            # Twice each, interleaved: the first run of a process warms it up.
            for _ in range(2):
                _measure("own limits only, no rate", port, envelopes, "", 0)
                _measure("fleet connection leases, no rate", port, envelopes, redis.url, 0)
                _measure("own limits, a rate", port, envelopes, "", PER_MINUTE)
                _measure("fleet leases and rate", port, envelopes, redis.url, PER_MINUTE)
    finally:
        sink.terminate()
        sink.wait()
