"""Relay route throughput: messages per second into Postfix's ``smtp-sink`` on 127.0.0.1.

One process, one event loop: the figure is what a single worker's SMTP side can push over
loopback (no rendering, no DKIM), with connection reuse. ``BENCH_ROUTES_MESSAGES`` sets the
count (default 20,000 messages of about 6 KB).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time

from agent.config import DestinationLimits, SmtpRelayRoute
from agent.routes.base import Envelope, OutcomeKind
from agent.routes.smtp_relay import SmtpRelay
from tests.peers.smtp import free_port

MESSAGES = int(os.environ.get("BENCH_ROUTES_MESSAGES", "20000"))
BATCH = 500
BODY = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 100 + "\r\n").encode()


def _envelopes() -> list[Envelope]:
    return [
        Envelope(
            i,
            "bounce@sender.test",
            f"user{i}@example.test",
            f"From: <news@sender.test>\r\nTo: <user{i}@example.test>\r\nSubject: n{i}\r\n"
            f"Message-ID: <{i}@sender.test>\r\n\r\n".encode()
            + BODY,
        )
        for i in range(MESSAGES)
    ]


async def _run(port: int, connections: int, envelopes: list[Envelope]) -> tuple[float, int]:
    settings = SmtpRelayRoute(
        host="127.0.0.1",
        port=port,
        tls="none",
        limits=DestinationLimits(connections=connections, messages_per_connection=1000),
    )
    route = SmtpRelay("bench", settings, helo="bench.test")
    batches = [envelopes[i : i + BATCH] for i in range(0, len(envelopes), BATCH)]
    started = time.perf_counter()
    # Several batches in flight at once, as a worker would hand them over.
    results = await asyncio.gather(*(route.deliver(b) for b in batches))
    elapsed = time.perf_counter() - started
    await route.close()
    delivered = sum(o.kind is OutcomeKind.DELIVERED for r in results for o in r)
    return elapsed, delivered


def main() -> None:
    """Print msgs/s of the relay route for a few connection counts."""
    sink_binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.path.exists(sink_binary):
        print("smtp-sink not installed (Debian package postfix); skipped")
        return
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([sink_binary, *user, f"127.0.0.1:{port}", "1024"])
    try:
        time.sleep(0.3)
        envelopes = _envelopes()
        for connections in (10, 50):
            elapsed, delivered = asyncio.run(_run(port, connections, envelopes))
            print(
                f"relay route -> smtp-sink, {connections} connections: {delivered}/{MESSAGES} "
                f"delivered in {elapsed:.2f} s = {delivered / elapsed:,.0f} msgs/s",
                flush=True,
            )
    finally:
        sink.terminate()
        sink.wait()
