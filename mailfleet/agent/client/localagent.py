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

from mailfleet.agent.client.channel import FingerprintMismatch, channel
from mailfleet.agent.client.stubs import AgentStubs
from mailfleet.agent.config import load
from mailfleet.agent.identity.pairing import Pairing
from mailfleet.agent.init import init, pairing_for

# Long enough for a busy two-core machine: an idle one starts an agent in about 5 s, one at a
# load of 20 took over 30 s (the workers import the whole stack before the agent serves).
_START_TIMEOUT = 90.0
# What ``mailfleet-agent`` starts the line with when it refuses to run (mailfleet.agent.cli.main).
_REFUSAL = "mailfleet-agent: "


class AgentStartError(RuntimeError):
    """The local agent did not come up; the message is one line for the person waiting."""


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
        """Run ``mailfleet-agent serve`` and wait until it answers health checks; raises
        :class:`AgentStartError` saying why when it does not."""
        log = log_path.open("ab") if log_path else None
        log_start = log.tell() if log else 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailfleet.agent.cli", "serve", "--config", str(self.config)],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        stranger = False
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                reason = _refusal(log_path, log_start) or f"it exited with code {code}"
                where = f" (log: {log_path})" if log_path else ""
                raise AgentStartError(f"The local agent did not start: {reason}{where}")
            try:
                with channel(self.pairing) as ch:
                    AgentStubs.on(ch).health.Check(health_pb2.HealthCheckRequest(), timeout=2)
                return
            except FingerprintMismatch:
                # Another program answers on the port: ours is about to give up binding it
                # (and exit, saying so), or it is still starting.
                stranger = True
            except (OSError, grpc.RpcError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                if stranger:
                    raise AgentStartError(
                        f"Port {self.pairing.port} is in use by another program; "
                        "the local agent cannot listen there"
                    )
                raise AgentStartError(
                    f"The local agent did not answer within {_START_TIMEOUT:.0f} s"
                )
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


def _refusal(log_path: Path | None, offset: int) -> str:
    """The reason the agent gave for refusing to run, from what it wrote to its log after
    ``offset``; "" when it gave none."""
    if log_path is None:
        return ""
    with log_path.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    found = [line.removeprefix(_REFUSAL) for line in lines if line.startswith(_REFUSAL)]
    return found[-1] if found else ""
