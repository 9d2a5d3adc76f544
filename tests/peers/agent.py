"""A real ``mailfleet-agent`` process in its own data directory, on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from mailfleet.agent import client
from mailfleet.agent.client.localagent import free_port
from mailfleet.agent.identity.pairing import Pairing, parse

# A guard against a hung start, not a speed check: an idle machine starts an agent in about
# 5 s, but CI measured over 30 s at a load of 20 on two cores (workers import the whole stack).
_START_TIMEOUT = 120.0


# The tests' name for the stubs of every service on one channel.
Stubs = client.AgentStubs


def agent_command() -> list[str]:
    """The agent's command line, run by this interpreter."""
    return [sys.executable, "-m", "mailfleet.agent.cli"]


class AgentProcess:
    """Initialises, starts, stops and kills one agent; hands out authenticated stubs."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        extra_config: str = "",
        http_config: str = "",
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.http_port = free_port()
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._channels: list[grpc.Channel] = []
        out = subprocess.run(
            [
                *agent_command(),
                "init",
                "--data-dir",
                str(data_dir),
                "--grpc-listen",
                f"127.0.0.1:{self.port}",
                "--http-listen",
                f"127.0.0.1:{self.http_port}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        self.pairing: Pairing = parse(out.stdout.strip())
        self.config = data_dir / "agent.toml"
        if http_config:  # more settings of the [http] table the config file already has
            text = self.config.read_text()
            self.config.write_text(text.replace("[http]\n", f"[http]\n{http_config}\n", 1))
        if extra_config:  # more TOML sections: routes, delivery settings, limits
            with self.config.open("a") as f:
                f.write("\n" + extra_config)

    def start(self) -> None:
        """Start the agent and wait until its health service says SERVING."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*agent_command(), "serve", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited at start-up:\n{self.log()}")
            try:
                with self.channel_for(self.pairing.api_key) as ch:
                    reply = client.AgentStubs.on(ch).health.Check(
                        health_pb2.HealthCheckRequest(), timeout=2
                    )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except (OSError, grpc.RpcError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"agent did not become healthy:\n{self.log()}")

    @property
    def http_url(self) -> str:
        """Base URL of the agent's HTTP endpoints."""
        return f"http://127.0.0.1:{self.http_port}"

    def http_get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` of the agent's HTTP server: the status and the body, errors included."""
        try:
            url = f"{self.http_url}{path}"
            with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback URL
                return int(reply.status), bytes(reply.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def log(self) -> str:
        """Everything the agent wrote to stdout and stderr."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def channel_for(self, api_key: str) -> grpc.Channel:
        """A pinned TLS channel carrying ``api_key``."""
        p = self.pairing
        return client.channel(Pairing(p.host, p.port, p.fingerprint, api_key))

    def stubs(self, api_key: str | None = None) -> Stubs:
        """Stubs authenticated with ``api_key`` (default: the initial admin key)."""
        ch = self.channel_for(api_key or self.pairing.api_key)
        self._channels.append(ch)
        return Stubs.on(ch)

    def workers(self) -> list[int]:
        """PIDs of the agent's worker processes (not multiprocessing's resource tracker)."""
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = [int(pid) for pid in path.read_text().split()]
        return [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; return the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        """Close channels and stop the process if it still runs."""
        for ch in self._channels:
            ch.close()
        self._channels.clear()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
