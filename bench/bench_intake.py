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
import tempfile
import time
from pathlib import Path

from bench import postfix
from bench.peers import SESSIONS, SIZE, smtp_sink, smtp_source
from mailfleet.agent import client
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.v1 import smtp_users_pb2

MESSAGES = int(os.environ.get("BENCH_INTAKE_MESSAGES", "20000"))
DOMAIN = "shop.example"
SENDER = f"app@{DOMAIN}"
RECIPIENT = "reader@dest.example"


def _agent_case(workdir: Path) -> float:
    intake_port = free_port()
    sink_port = free_port()
    with smtp_sink(sink_port):
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
            elapsed = smtp_source(intake_port, MESSAGES, SENDER, RECIPIENT)
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
    sink_port = free_port()
    with smtp_sink(sink_port), postfix.relaying_postfix(smtpd_port, sink_port):
        time.sleep(1.0)
        return MESSAGES / smtp_source(smtpd_port, MESSAGES, SENDER, RECIPIENT)


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
