"""A private Postfix instance (Debian's package) that relays to a given port, for comparison.

It lives entirely in a temporary directory, listens on 127.0.0.1 only and is stopped by the
context manager; the system's own Postfix configuration is never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.localdomain
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
smtpd_relay_restrictions = permit_mynetworks, reject
default_destination_concurrency_limit = 50
smtp_destination_concurrency_limit = 50
default_process_limit = 200
# Postfix only logs to files under /var or to stdout; its log is not needed here.
maillog_file = /dev/stdout
smtp_tls_security_level = none
"""


def available() -> bool:
    """Whether Debian's postfix and smtp-source/smtp-sink are installed."""
    return all(shutil.which(p) for p in ("postfix", "smtp-source", "smtp-sink", "postconf"))


@contextmanager
def relaying_postfix(listen_port: int, relay_port: int, extra_main_cf: str = "") -> Iterator[None]:
    """Run Postfix on 127.0.0.1:``listen_port`` relaying everything to ``relay_port``;
    ``extra_main_cf`` adds lines to its main.cf (a milter, a transport map)."""
    with (
        tempfile.TemporaryDirectory(prefix="mailfleet-postfix-") as tmp,
        _instance(Path(tmp), listen_port, relay_port, extra_main_cf),
    ):
        yield


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for whoever adopted it has stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop(root: Path, conf_args: list[str]) -> None:
    """Stop the master by its PID (it stops its children), bounded in time."""
    pid_file = root / "queue" / "pid" / "master.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):  # it never wrote one: let postfix say why
        subprocess.run(["postfix", *conf_args, "stop"], capture_output=True, timeout=30)
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)


@contextmanager
def _instance(root: Path, listen_port: int, relay_port: int, extra: str) -> Iterator[None]:
    conf = root / "conf"
    conf.mkdir(parents=True)
    (root / "queue").mkdir()
    (root / "data").mkdir()
    shutil.chown(root / "data", "postfix")
    root.chmod(0o755)  # the postfix user walks into its queue below here
    (conf / "main.cf").write_text(MAIN_CF.format(root=root, relay_port=relay_port) + extra)
    master = Path("/etc/postfix/master.cf").read_text().splitlines()
    lines = []
    for line in master:
        fields = line.split()
        if fields[:2] == ["smtp", "inet"]:
            fields[0] = f"127.0.0.1:{listen_port}"
        if len(fields) >= 8 and not line.startswith((" ", "\t", "#")):
            fields[4] = "n"  # no chroot: the queue lives in a temporary directory
            line = " ".join(fields)
        lines.append(line)
    (conf / "master.cf").write_text("\n".join(lines) + "\n")
    env_conf = ["-c", str(conf)]
    started = subprocess.run(["postfix", *env_conf, "start"], capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(f"postfix did not start: {started.stdout}{started.stderr}")
    try:
        yield
    finally:
        _stop(root, env_conf)
