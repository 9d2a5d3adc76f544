"""A throwaway agent process for benchmarks (temporary data dir, free loopback port)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agent import client
from agent.identity.pairing import Pairing, parse


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


@contextmanager
def running_agent(port: int) -> Iterator[tuple[Pairing, subprocess.Popen[bytes]]]:
    """Initialise and serve an agent; stop it by its PID afterwards."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        data = Path(tmp) / "agent"
        cmd = [sys.executable, "-m", "agent.cli"]
        out = subprocess.run(
            [*cmd, "init", "--data-dir", str(data), "--grpc-listen", f"127.0.0.1:{port}"],
            check=True,
            capture_output=True,
            text=True,
        )
        pairing = parse(out.stdout.strip())
        proc = subprocess.Popen(
            [*cmd, "serve", "--config", str(data / "agent.toml")], stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with client.channel(pairing) as ch:
                        health_pb2_grpc.HealthStub(ch).Check(
                            health_pb2.HealthCheckRequest(), timeout=2
                        )
                    break
                except (OSError, grpc.RpcError):
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("the agent did not start") from None
                    time.sleep(0.1)
            yield pairing, proc
        finally:
            proc.terminate()
            proc.wait(30)
