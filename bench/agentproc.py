"""A throwaway agent process for benchmarks (temporary data dir, free loopback port)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mailfleet.agent.client import Pairing
from mailfleet.agent.client.localagent import LocalAgent

_TICKS = os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def cpu_seconds(pids: list[int]) -> float:
    """The user and system CPU the processes have used so far, in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def children(pid: int) -> list[int]:
    """The PIDs of the process's children (an agent's workers)."""
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@contextmanager
def running_agent(port: int) -> Iterator[tuple[Pairing, subprocess.Popen[bytes]]]:
    """Initialise and serve an agent in a temporary directory; stop it by its PID afterwards."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        agent = LocalAgent(Path(tmp) / "agent", f"127.0.0.1:{port}")
        agent.start(Path(tmp) / "agent.log")  # keeps the figures readable
        assert agent.proc is not None
        try:
            yield agent.pairing, agent.proc
        finally:
            agent.stop()
