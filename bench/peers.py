"""Peers the benchmarks run on 127.0.0.1: Postfix's ``smtp-source`` and ``smtp-sink``, and
how any peer process is stopped (by its PID, bounded in time)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.peers.processes import stop

SESSIONS = 50
SIZE = 5 * 1024
# Longest any one smtp-source run or sink may take before the benchmark gives up.
TIMEOUT = 3600


def smtp_source(
    port: int,
    messages: int,
    sender: str,
    recipient: str,
    *,
    sessions: int = SESSIONS,
    size: int = SIZE,
) -> float:
    """Send ``messages`` of ``size`` bytes over ``sessions`` parallel sessions, a new
    connection per message (smtp-source without ``-d``); return the seconds it took."""
    began = time.monotonic()
    subprocess.run(
        [
            "smtp-source",
            "-s", str(sessions),
            "-m", str(messages),
            "-l", str(size),
            "-f", sender,
            "-t", recipient,
            "-M", "bench.example",
            f"127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )  # fmt: skip
    return time.monotonic() - began


@contextmanager
def smtp_sink(port: int, count: int = 0) -> Iterator[subprocess.Popen[bytes]]:
    """Run smtp-sink on ``port``; with ``count`` it exits once that many messages have
    arrived (before answering the last one's data, so its sender sees that one fail).
    Stopped by its PID on the way out."""
    limit = ["-M", str(count)] if count else []
    proc = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-m", "1024", *limit, f"127.0.0.1:{port}", "1024"]
    )
    try:
        yield proc
    finally:
        stop(proc)
