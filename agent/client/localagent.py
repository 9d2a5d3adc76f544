"""Start and stop an agent process on this machine: for ``make run``, ``make demo``, the
desktop's own local agent, benchmarks and tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from agent.client.channel import channel
from agent.client.stubs import AgentStubs
from agent.config import load
from agent.identity.pairing import Pairing
from agent.init import init, pairing_for

_START_TIMEOUT = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on, held back from other programs a while.

    A port only picked and released could be taken before its server binds it, by another
    program's pick or by the local end of any outgoing connection. So the port is left in
    TIME_WAIT (one connection, closed from the listening side): for a minute the kernel hands
    it to no one else, yet a server that binds with SO_REUSEADDR, as asyncio, aiohttp, gRPC,
    PostgreSQL and Postfix do, gets it at once.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        if sys.platform == "win32":  # SO_REUSEADDR means something else there: a plain pick
            listener.bind((host, 0))
            return int(listener.getsockname()[1])
        # The connection left in TIME_WAIT keeps this option, without which nobody could bind.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        port = int(listener.getsockname()[1])
        listener.listen(1)
        with socket.create_connection((host, port)):
            accepted, _ = listener.accept()
            accepted.close()
    return port


def read_pairing(data_dir: Path) -> Pairing:
    """The pairing string of the agent initialised in ``data_dir``, read without writing there
    (the agent may be running from it)."""
    return pairing_for(load(data_dir.resolve() / "agent.toml"))


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
                with channel(self.pairing) as ch:
                    AgentStubs.on(ch).health.Check(health_pb2.HealthCheckRequest(), timeout=2)
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
