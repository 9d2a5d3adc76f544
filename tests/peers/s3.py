"""A local S3 stand-in: moto's server mode on a free loopback port, stopped by its PID."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mailfleet.agent.client.localagent import free_port
from tests.peers.processes import stop

_START_TIMEOUT = 30.0


@contextmanager
def s3_server(log_dir: Path) -> Iterator[str]:
    """A running S3 API on 127.0.0.1; yields its endpoint URL (any keys are accepted)."""
    port = free_port()
    log = (log_dir / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited at start-up: {(log_dir / 'moto.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):  # noqa: S310 - loopback
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError("moto did not answer in time") from None
                time.sleep(0.2)
        yield url
    finally:
        stop(proc)
        log.close()
