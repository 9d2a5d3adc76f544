"""SMTP intake speed: Postfix's smtp-source, 50 sessions of 5 KB messages, into the agent's
intake, beside the same load into a private Postfix on this machine, in the same run.

Both accept a message only once it is durable: the agent after the group commit (fsync'd WAL)
that queued it, Postfix after its queue file is fsync'd. Both deliver what they accepted to an
smtp-sink at the same time, as they would in production. The figure is messages accepted per
second, from smtp-source's start to its end. Size: BENCH_INTAKE_MESSAGES (default 20000).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent import client
from agent.client import AgentStubs
from agent.client.localagent import LocalAgent, free_port
from bench import postfix
from mailfleet.v1 import smtp_users_pb2

MESSAGES = int(os.environ.get("BENCH_INTAKE_MESSAGES", "20000"))
SESSIONS = 50
SIZE = 5 * 1024
DOMAIN = "shop.example"


def _smtp_source(port: int) -> float:
    """Run smtp-source against ``port``; return the seconds it took."""
    began = time.monotonic()
    subprocess.run(
        [
            "smtp-source",
            "-s", str(SESSIONS),
            "-m", str(MESSAGES),
            "-l", str(SIZE),
            "-f", f"app@{DOMAIN}",
            "-t", "reader@dest.example",
            "-M", "bench.example",
            f"127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        timeout=3600,
    )  # fmt: skip
    return time.monotonic() - began


@contextmanager
def _sink() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-m", "1024", f"127.0.0.1:{port}", "1024"]
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _agent_case(workdir: Path) -> float:
    intake_port = free_port()
    with _sink() as sink_port:
        config = (
            '[delivery]\ndefault_route = "relay"\n\n'
            f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n'
            'tls = "none"\n[routes.relay.limits]\nconnections = 50\n'
            "messages_per_connection = 1000\n\n"
            # smtp-source cannot AUTH: the loopback listener trusts 127.0.0.1, as Postfix's
            # mynetworks does below.
            "[intake]\nmax_connections_per_ip = 200\n\n[[intake.listeners]]\n"
            f'port = {intake_port}\ntls = "none"\nauth_required = false\n'
            'trusted_networks = ["127.0.0.1/32"]\ntrusted_tenant = "default"\n'
        )
        agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}", config)
        agent.start(workdir / "agent.log")
        try:
            with client.channel(agent.pairing) as ch:
                AgentStubs.on(ch).smtp_users.AddSendingDomain(
                    smtp_users_pb2.SendingDomainRequest(domain=DOMAIN)
                )
            elapsed = _smtp_source(intake_port)
            conn = sqlite3.connect(f"file:{workdir / 'agent' / 'agent.db'}?mode=ro", uri=True)
            queued = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            conn.close()
            if queued != MESSAGES:
                raise RuntimeError(f"the agent queued {queued} of {MESSAGES} messages")
        finally:
            agent.stop()
    return MESSAGES / elapsed


def _postfix_case() -> float:
    smtpd_port = free_port()
    with _sink() as sink_port, postfix.relaying_postfix(smtpd_port, sink_port):
        time.sleep(1.0)
        return MESSAGES / _smtp_source(smtpd_port)


def main() -> None:
    """Print the agent's intake rate and, when installed, Postfix's beside it."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        ours = _agent_case(Path(tmp))
    print(
        f"smtp-source → intake, {MESSAGES:,} messages of {SIZE:,} bytes over {SESSIONS} "
        f"sessions: {ours:,.0f} msgs/s accepted durably"
    )
    if postfix.available():
        theirs = _postfix_case()
        print(
            f"smtp-source → postfix, same load: {theirs:,.0f} msgs/s; "
            f"mailfleet / postfix = {ours / theirs:.2f} (goal ≥ 1)"
        )
    else:
        print("postfix: not installed (apt-get install postfix); comparison skipped")
