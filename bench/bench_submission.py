"""End to end for applications that submit by SMTP: Postfix's smtp-source (50 sessions, a new
connection per 5 KB message) into a loopback listener, relayed DKIM-signed (RSA-2048) to
Postfix's smtp-sink; the agent (intake, DKIM, VERP, relay) beside Postfix + OpenDKIM (Debian's
``opendkim`` as a milter, RSA-2048) on the same load in the same run.

The figure counts from smtp-source's first connection until the sink has the last message.
Both sides answer 250 only once a message is durable: the agent after the group commit (an
fsync'd WAL) that queued it, Postfix after its queue file is fsync'd (and, with the milter,
once OpenDKIM has signed it). Before the load, one message through each side is checked with
Mail::DKIM, so neither is timed without signing. Also printed: the acceptance rate (messages
over smtp-source's own time), the agent's CPU per message and peak RSS, OpenDKIM's CPU.

Sizes: BENCH_SUBMISSION_MESSAGES (default 20000), BENCH_SUBMISSION_RUNS (default 3; each run
measures both sides, in alternating order).
"""

from __future__ import annotations

import os
import smtplib
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, make_msgid
from pathlib import Path

from bench import opendkim, postfix
from bench.agentproc import children, cpu_seconds, peak_rss_mib
from bench.peers import SESSIONS, SIZE, TIMEOUT, smtp_sink, smtp_source
from mailfleet.agent import client
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.agent.config import load
from mailfleet.agent.dkim.keys import generate_key
from mailfleet.v1 import smtp_users_pb2
from tests.peers.dkimverify import mail_dkim
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink

MESSAGES = int(os.environ.get("BENCH_SUBMISSION_MESSAGES", "20000"))
RUNS = int(os.environ.get("BENCH_SUBMISSION_RUNS", "3"))
DOMAIN = "shop.example"
SENDER = f"app@{DOMAIN}"
RECIPIENT = "reader@dest.example"
# The signature check's message goes to a sink of its own, by a route or transport of its own.
CHECK_RECIPIENT = "reader@check.example"


@dataclass(frozen=True)
class Figures:
    """One side's run."""

    end_to_end: float  # msgs/s, first connection until the sink has the last message
    accepted: float  # msgs/s over smtp-source's own time
    detail: str  # CPU and memory, as printed


def _check_signed(port: int, sink: SmtpSink, dns: LocalDns, tmp: Path, header: str = "") -> None:
    """Send one message into ``port`` and require Mail::DKIM's pass on what ``sink`` got."""
    message = (
        f"From: <{SENDER}>\r\nTo: <{CHECK_RECIPIENT}>\r\nDate: {formatdate()}\r\n"
        f"Message-Id: {make_msgid(domain='bench.example')}\r\nSubject: check\r\n{header}"
        "\r\nIs this signed?\r\n"
    )
    with smtplib.SMTP("127.0.0.1", port, "bench.example", timeout=60) as smtp:
        smtp.sendmail(SENDER, [CHECK_RECIPIENT], message.encode())
    arrived = sink.wait_for(1, timeout=120)
    result = mail_dkim(arrived[0].data, dns, tmp).get("rsa-sha256")
    if result != "pass":
        raise RuntimeError(f"the signature check's message was not signed right: {result}")


def _agent_config(intake_port: int, sink_port: int, check_port: int) -> str:
    return (
        '[delivery]\ndefault_route = "relay"\n\n'
        f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n'
        'tls = "none"\n[routes.relay.limits]\nconnections = 50\n'
        "messages_per_connection = 1000\n\n"
        f'[routes.check]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {check_port}\n'
        'tls = "none"\n\n'
        # VERP return paths, as a production agent sends submitted mail.
        '[intake]\nmax_connections_per_ip = 200\nbounce_domain = "bounce.shop.example"\n\n'
        # smtp-source cannot AUTH: the loopback listener trusts 127.0.0.1, as Postfix's
        # mynetworks does.
        f'[[intake.listeners]]\nport = {intake_port}\ntls = "none"\nauth_required = false\n'
        'trusted_networks = ["127.0.0.1/32"]\ntrusted_tenant = "default"\n'
    )


def _queued(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        conn.close()


def _agent_run(workdir: Path) -> Figures:
    intake_port, sink_port = free_port(), free_port()
    dns = LocalDns()
    dns.start()
    try:
        with SmtpSink() as check, smtp_sink(sink_port, MESSAGES) as sink:
            config = _agent_config(intake_port, sink_port, check.port)
            agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}", config)
            record = generate_key(load(agent.config).dkim_dir, DOMAIN, "mailfleet", "rsa")
            dns.add_txt(record.name, record.value)
            agent.start(workdir / "agent.log")
            assert agent.proc is not None
            try:
                with client.channel(agent.pairing) as ch:
                    AgentStubs.on(ch).smtp_users.AddSendingDomain(
                        smtp_users_pb2.SendingDomainRequest(domain=DOMAIN)
                    )
                _check_signed(intake_port, check, dns, workdir, "X-Mailfleet-Route: check\r\n")
                pids = [agent.proc.pid, *children(agent.proc.pid)]
                cpu0 = [cpu_seconds([pid]) for pid in pids]
                began = time.monotonic()
                accepted = smtp_source(intake_port, MESSAGES, SENDER, RECIPIENT)
                sink.wait(TIMEOUT)
                elapsed = time.monotonic() - began
                cpu = [cpu_seconds([pid]) - c for pid, c in zip(pids, cpu0, strict=True)]
                rss = [peak_rss_mib(p) for p in pids]
            finally:
                agent.stop()
        queued = _queued(workdir / "agent" / "agent.db") - 1  # less the check's message
        if queued != MESSAGES:  # every 250 must be in the queue
            raise RuntimeError(f"the agent queued {queued} of {MESSAGES} messages")
    finally:
        dns.stop()
    detail = (
        f"CPU {sum(cpu) / MESSAGES * 1000:.2f} ms/msg (coordinator {cpu[0] / MESSAGES * 1000:.2f},"
        f" workers {sum(cpu[1:]) / MESSAGES * 1000:.2f}), peak RSS "
        f"coordinator {rss[0]:.0f} MiB, worker {max(rss[1:], default=0.0):.0f} MiB"
    )
    return Figures(MESSAGES / elapsed, MESSAGES / accepted, detail)


def _postfix_run(workdir: Path) -> Figures:
    workdir.mkdir()
    smtpd_port, sink_port, milter_port = free_port(), free_port(), free_port()
    dns = LocalDns()
    dns.start()
    try:
        with (
            SmtpSink() as check,
            opendkim.signing_milter(milter_port, DOMAIN, "opendkim") as milter,
            smtp_sink(sink_port, MESSAGES) as sink,
        ):
            dns.add_txt(milter.record_name, milter.record_value)
            extra = (
                f"smtpd_milters = inet:127.0.0.1:{milter.port}\n"
                # A milter that fails refuses the mail rather than passing it on unsigned.
                "milter_default_action = tempfail\n"
                f"transport_maps = inline:{{check.example=smtp:[127.0.0.1]:{check.port}}}\n"
            )
            with postfix.relaying_postfix(smtpd_port, sink_port, extra):
                time.sleep(1.0)
                _check_signed(smtpd_port, check, dns, workdir)
                cpu0 = cpu_seconds([milter.pid])
                began = time.monotonic()
                accepted = smtp_source(smtpd_port, MESSAGES, SENDER, RECIPIENT)
                sink.wait(TIMEOUT)
                elapsed = time.monotonic() - began
                cpu = cpu_seconds([milter.pid]) - cpu0
    finally:
        dns.stop()
    detail = f"OpenDKIM CPU {cpu / MESSAGES * 1000:.2f} ms/msg"
    return Figures(MESSAGES / elapsed, MESSAGES / accepted, detail)


def _spread(values: list[float], fmt: str = ",.0f") -> str:
    median = statistics.median(values)
    if len(values) == 1:
        return format(median, fmt)
    return f"{median:{fmt}} ({min(values):{fmt}} to {max(values):{fmt}})"


def main() -> None:
    """Print both sides' figures for each run, then the medians, ranges and ratios."""
    compare = postfix.available() and opendkim.available()
    if not compare:
        print("postfix or opendkim: not installed (make bench-peers); comparison skipped")
    ours: list[Figures] = []
    theirs: list[Figures] = []
    load_text = f"{MESSAGES:,} messages of {SIZE:,} bytes, {SESSIONS} sessions, a connection each"
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        for run in range(RUNS):
            sides: list[tuple[str, Callable[[Path], Figures], list[Figures]]] = [
                ("mailfleet", _agent_run, ours)
            ]
            if compare:
                pf = ("postfix + opendkim", _postfix_run, theirs)
                sides = [*sides, pf] if run % 2 == 0 else [pf, *sides]
            for name, side, results in sides:
                got = side(Path(tmp) / f"{name.split()[0]}-{run}")
                results.append(got)
                print(
                    f"run {run + 1}, {name}: {got.end_to_end:,.0f} msgs/s end to end, "
                    f"{got.accepted:,.0f} msgs/s accepted; {got.detail}",
                    flush=True,
                )
    print(
        f"smtp-source → intake → DKIM (RSA-2048) + VERP → relay → smtp-sink, {load_text}: "
        f"{_spread([f.end_to_end for f in ours])} msgs/s end to end, "
        f"{_spread([f.accepted for f in ours])} msgs/s accepted durably; goal ≥ 700"
    )
    if theirs:
        print(
            f"postfix + opendkim (milter, RSA-2048), same load: "
            f"{_spread([f.end_to_end for f in theirs])} msgs/s end to end, "
            f"{_spread([f.accepted for f in theirs])} msgs/s accepted"
        )
        e2e = [o.end_to_end / t.end_to_end for o, t in zip(ours, theirs, strict=True)]
        acc = [o.accepted / t.accepted for o, t in zip(ours, theirs, strict=True)]
        print(
            f"mailfleet / postfix + opendkim: end to end {_spread(e2e, '.2f')} (goal ≥ 3.5), "
            f"accepted {_spread(acc, '.2f')}"
        )
