"""A private OpenDKIM (Debian's opendkim) signing as a milter on 127.0.0.1, for comparison.

Its key (RSA-2048, made by ``opendkim-genkey``), configuration and PID file live in a
temporary directory; the process runs in the foreground and is stopped by its PID.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.peers import processes

CONF = """\
Syslog no
Mode s
Socket inet:{port}@127.0.0.1
PidFile {root}/opendkim.pid
Domain {domain}
Selector {selector}
KeyFile {root}/{selector}.private
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
# The key lives under /tmp, which other users may write to: OpenDKIM refuses that otherwise.
RequireSafeKeys false
"""
_START_TIMEOUT = 10.0
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class Milter:
    """A running OpenDKIM: where Postfix reaches it, and the DKIM record it signs for."""

    port: int
    pid: int
    record_name: str
    record_value: str


def available() -> bool:
    """Whether Debian's opendkim and opendkim-tools are installed."""
    return all(shutil.which(p) for p in ("opendkim", "opendkim-genkey"))


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def signing_milter(port: int, domain: str, selector: str) -> Iterator[Milter]:
    """Run OpenDKIM on 127.0.0.1:``port``, signing mail from ``domain`` with a new key."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-opendkim-") as tmp:
        root = Path(tmp)
        subprocess.run(
            ["opendkim-genkey", "-b", "2048", "-d", domain, "-s", selector, "-D", str(root)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        record = "".join(_QUOTED.findall((root / f"{selector}.txt").read_text()))
        conf = root / "opendkim.conf"
        conf.write_text(CONF.format(port=port, root=root, domain=domain, selector=selector))
        proc = subprocess.Popen(["opendkim", "-f", "-x", str(conf)])
        try:
            deadline = time.monotonic() + _START_TIMEOUT
            while not _listening(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("opendkim did not start")
                time.sleep(0.05)
            yield Milter(port, proc.pid, f"{selector}._domainkey.{domain}", record)
        finally:
            processes.stop(proc)
