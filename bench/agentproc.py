"""A throwaway agent process for benchmarks (temporary data dir, free loopback port)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.client import Pairing
from agent.client.localagent import LocalAgent


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


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
