"""A real ``redis-server`` (Debian's package) on a free loopback port, in its own temporary
directory, with no persistence; stopped (or killed, to test an outage) by its PID::

    with RedisServer() as server:
        settings = f'[shared]\\nredis_url = "{server.url}"'
        ...
        server.kill()
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.peers import processes
from tests.peers.smtp import free_port

_START_TIMEOUT = 60.0  # a hang guard: a loaded CI machine is slow to start servers


class RedisServer:
    """One redis-server process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mailfleet-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``[shared] redis_url`` of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        where = ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir)]
        quiet = ["--save", "", "--appendonly", "no", "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(
            [binary, *where, *quiet],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()}")
            if self.ping():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer: {self.log()}")

    def ping(self) -> bool:
        """Whether it answers PING now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        """What the server logged."""
        path = self.dir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: Redis goes away at once."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        """Stop it (by its PID) and remove its directory."""
        if self.proc is not None:
            processes.stop(self.proc)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
