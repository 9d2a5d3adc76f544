"""A throwaway PostgreSQL server for the data-layer tests, from the Debian package's binaries."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mailfleet.agent.client.localagent import free_port


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major)
    if not found:
        raise PostgresMissing(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
            "install the Debian package 'postgresql' (make test does this)"
        )
    return Path(found[-1]).parent


def _major(path: str) -> int:
    return int(Path(path).parent.parent.name.split(".")[0])


@dataclass
class PostgresServer:
    """A running server: its base directory, port and postmaster PID."""

    base: Path
    port: int
    pid: int

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server's ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        """Fast shutdown by signalling the postmaster's PID, then remove its files."""
        try:
            os.kill(self.pid, signal.SIGINT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                os.kill(self.pid, 0)
                time.sleep(0.05)
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Create a cluster in a temporary directory and start it on a free loopback port.

    PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user
    the Debian package creates, and owns its directory.
    """
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="mailfleet-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
         "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"),
         "-o", options, "-w", "-t", "60", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    return PostgresServer(base, port, pid)
