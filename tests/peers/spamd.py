"""A real SpamAssassin daemon (Debian's ``spamd``) on a free loopback port, with local rules only
(no DNS, network or Bayes tests) and its own temporary directories; stopped by PID."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mailfleet.agent.client.localagent import free_port
from tests.peers import processes

RULES = Path("/usr/share/spamassassin")
SITE = Path("/etc/spamassassin")
# Nothing learnt, nothing looked up: every score comes from the shipped rules and the message.
LOCAL_CF = "use_bayes 0\nbayes_auto_learn 0\nskip_rbl_checks 1\ndns_available no\n"
START_SECONDS = 120  # loading the rules takes several seconds on a loaded machine

# (subject, HTML) of a message the shipped rules score well over 5, and of one they pass.
SPAMMY = (
    "FREE MONEY!!! YOU HAVE WON $1,000,000",
    "<p>CONGRATULATIONS!!! You have WON $1,000,000 CASH. 100% FREE, no risk, act now! "
    "Click <a href='http://192.0.2.1/claim'>HERE</a> to claim your prize. Cheap viagra and "
    "cialis. Lose weight fast! Urgent reply needed: a bank transfer of US$25,000,000 to your "
    "account.</p>",
)
CLEAN = (
    "Our spring range is here, {{ first_name }}",
    "<p>Hello {{ first_name }},</p><p>Our spring range is in the shop from Monday, with new "
    "colours and sizes. We hope to see you soon.</p><p>The Shop</p>"
    "<p><a href='{{ unsubscribe_url }}'>Unsubscribe</a></p>",
)


class SpamdMissing(RuntimeError):
    """Debian's spamd is not installed."""


@dataclass
class SpamdServer:
    """A running spamd: its directory, port and process."""

    base: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        """host:port, as the desktop's setting holds it."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the daemon by its PID (it stops its children), then remove its files."""
        processes.stop(self.process, grace=30)
        shutil.rmtree(self.base, ignore_errors=True)


def start_spamd() -> SpamdServer:
    """Start spamd on a free loopback port; returns once it accepts connections."""
    binary = shutil.which("spamd") or "/usr/sbin/spamd"
    if not Path(binary).exists() or not RULES.is_dir():
        raise SpamdMissing("spamd not found: install the Debian packages spamassassin and spamd "
                           "(make test does this)")  # fmt: skip
    base = Path(tempfile.mkdtemp(prefix="mailfleet-spamd-"))
    site = base / "site"
    site.mkdir()
    for pre in glob.glob(str(SITE / "*.pre")):  # the plugins the rules need
        shutil.copy(pre, site)
    (site / "local.cf").write_text(LOCAL_CF)
    home = base / "home"
    home.mkdir()
    os.chmod(base, 0o755)  # noqa: S103 (its children run as nobody and read the site rules)
    port = free_port()
    pidfile = base / "spamd.pid"
    command = [binary, "--local", "--nouser-config", f"--listen=127.0.0.1:{port}",
               "--max-children=1", "--min-children=1", f"--configpath={RULES}",
               f"--siteconfigpath={site}", f"--pidfile={pidfile}", "--syslog=stderr"]  # fmt: skip
    if os.geteuid() == 0:  # spamd drops root for its children; nobody reads the rules
        command.append("--username=nobody")
    with (base / "spamd.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "HOME": str(home)})  # fmt: skip
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log_text = (base / "spamd.log").read_text(errors="replace")[-2000:]
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"spamd exited at start: {log_text}")
        if pidfile.exists() and _accepts(port):
            return SpamdServer(base, port, proc)
        time.sleep(0.2)
    server = SpamdServer(base, port, proc)
    server.stop()
    raise RuntimeError(f"spamd did not start within {START_SECONDS} s")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
