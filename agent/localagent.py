"""Start and stop a local agent process: used by ``make run`` and ``make demo``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agent import client
from agent.identity.pairing import Pairing
from agent.setup import init

_START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalAgent:
    """An agent child process with its own data directory on 127.0.0.1."""

    def __init__(
        self, data_dir: Path, listen: str, extra_config: str = "", http_listen: str | None = None
    ) -> None:
        # Each local agent gets its own HTTP port unless told one, so several can run at once.
        result = init(data_dir, listen, http_listen or f"127.0.0.1:{free_port()}")
        self.config = result.config_path
        if extra_config and result.created:  # more TOML sections, added once to a new config
            with self.config.open("a", encoding="utf-8") as f:
                f.write("\n" + extra_config)
        self.pairing: Pairing = result.pairing
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, log_path: Path | None = None) -> None:
        """Run ``mailfleet-agent serve`` and wait until it answers health checks."""
        log = log_path.open("ab") if log_path else None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "serve", "--config", str(self.config)],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the agent exited with code {self.proc.returncode}")
            try:
                with client.channel(self.pairing) as ch:
                    health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=2)
                return
            except (OSError, grpc.RpcError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the agent did not answer within 30 s") from None
                time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM the agent (it finishes its writes) and return its exit code."""
        if self.proc is None:
            return 0
        self.proc.terminate()
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        self.proc = None
        return code
