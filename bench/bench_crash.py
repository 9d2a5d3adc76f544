"""Repeats after crashes: SMTP submissions into the agent's intake while it is killed (-9) and
restarted, relayed to a sink on 127.0.0.1 that counts the copies each recipient gets.

Eight clients submit one message per recipient; a client whose submission is cut off (the
agent died) or refused submits it again once the agent is back, as a real application would.
Each copy carries the client's try number, so a repeat is told apart: the agent sending one
accepted message twice (its outcome was not recorded before the kill), or the client
submitting again because the kill took the agent's 250 with it (SMTP itself cannot avoid
that). Lost: a recipient whose message the agent answered 250 and that never arrived.

Sizes: BENCH_CRASH_MESSAGES (default 3000), BENCH_CRASH_KILLS (default 3), BENCH_CRASH_CLIENTS
(default 8).
"""

from __future__ import annotations

import os
import re
import smtplib
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from mailfleet.agent import client
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.v1 import smtp_users_pb2
from tests.peers.smtp import SmtpSink

MESSAGES = int(os.environ.get("BENCH_CRASH_MESSAGES", "3000"))
KILLS = int(os.environ.get("BENCH_CRASH_KILLS", "3"))
CLIENTS = int(os.environ.get("BENCH_CRASH_CLIENTS", "8"))
DOMAIN = "shop.example"
_TRY = re.compile(rb"^X-Bench-Try: (\d+)\r?$", re.MULTILINE)
# Every bound the run can wait on: a submission, the restart, the last deliveries.
_SUBMIT_FOR = 300.0
_SETTLE_FOR = 300.0


def _rcpt(i: int) -> str:
    return f"r{i}@dest.example"


def _message(i: int, attempt: int) -> bytes:
    return (
        f"From: app@{DOMAIN}\r\nTo: {_rcpt(i)}\r\nSubject: order {i}\r\n"
        f"X-Bench-Try: {attempt}\r\n\r\nThanks for order {i}.\r\n"
    ).encode()


class _Run:
    """What the clients and the killer share."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: set[int] = set()  # answered 250
        self.tries = 0
        self.given_up: set[int] = set()


def _submit(port: int, todo: list[int], run: _Run) -> None:
    smtp: smtplib.SMTP | None = None
    for i in todo:
        attempt = 0
        deadline = time.monotonic() + _SUBMIT_FOR
        while True:
            attempt += 1
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", port, "bench.example", timeout=30)
                smtp.sendmail(f"app@{DOMAIN}", [_rcpt(i)], _message(i, attempt))
                with run.lock:
                    run.accepted.add(i)
                    run.tries += attempt
                break
            except (smtplib.SMTPException, OSError):
                if smtp is not None:
                    smtp.close()
                    smtp = None
                if time.monotonic() > deadline:
                    with run.lock:
                        run.given_up.add(i)
                    break
                time.sleep(0.05)  # the agent is restarting
    if smtp is not None:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _kill_and_restart(agent: LocalAgent, run: _Run, log: Path) -> list[float]:
    """Kill -9 the agent each time another share of the submissions has been accepted;
    return how long each restart took."""
    restarts = []
    for k in range(1, KILLS + 1):
        mark = MESSAGES * k // (KILLS + 1)
        deadline = time.monotonic() + _SUBMIT_FOR
        while len(run.accepted) < mark and time.monotonic() < deadline:
            time.sleep(0.01)
        assert agent.proc is not None
        agent.proc.kill()
        agent.proc.wait(10)
        began = time.monotonic()
        agent.start(log)
        restarts.append(time.monotonic() - began)
    return restarts


def _unfinished(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:  # queued (1), in flight (2), deferred (4)
        row = conn.execute("SELECT count(*) FROM messages WHERE state IN (1, 2, 4)").fetchone()
        return int(row[0])
    finally:
        conn.close()


def _config(sink: SmtpSink, intake_port: int) -> str:
    return (
        '[delivery]\ndefault_route = "relay"\n\n'
        f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\n'
        'tls = "none"\n\n'
        "[intake]\nmax_connections_per_ip = 200\n\n[[intake.listeners]]\n"
        f'port = {intake_port}\ntls = "none"\nauth_required = false\n'
        'trusted_networks = ["127.0.0.1/32"]\ntrusted_tenant = "default"\n'
    )


def main() -> None:
    """Print the copies per recipient, the repeats and the lost messages over the kills."""
    run = _Run()
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp, SmtpSink() as sink:
        workdir = Path(tmp)
        intake_port = free_port()
        config = _config(sink, intake_port)
        agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}", config)
        log = workdir / "agent.log"
        agent.start(log)
        try:
            with client.channel(agent.pairing) as ch:
                AgentStubs.on(ch).smtp_users.AddSendingDomain(
                    smtp_users_pb2.SendingDomainRequest(domain=DOMAIN)
                )
            began = time.monotonic()
            clients = [
                threading.Thread(
                    target=_submit, args=(intake_port, list(range(n, MESSAGES, CLIENTS)), run)
                )
                for n in range(CLIENTS)
            ]
            for t in clients:
                t.start()
            restarts = _kill_and_restart(agent, run, log)
            for t in clients:
                t.join()
            submitted = time.monotonic() - began
            deadline = time.monotonic() + _SETTLE_FOR
            while _unfinished(workdir / "agent" / "agent.db") and time.monotonic() < deadline:
                time.sleep(0.2)
            left = _unfinished(workdir / "agent" / "agent.db")
        finally:
            agent.stop()
        received = sink.received
    copies = Counter(r.rcpt_to[0] for r in received)
    tries = Counter(
        (r.rcpt_to[0], m.group(1) if (m := _TRY.search(r.data)) else b"") for r in received
    )
    resent = sum(n - 1 for n in tries.values())  # one accepted message sent twice by the agent
    resubmitted = sum(copies.values()) - len(copies) - resent
    lost = sorted(i for i in run.accepted if _rcpt(i) not in copies)
    repeats = resent + resubmitted
    worst = max(copies.values(), default=0)
    print(
        f"{MESSAGES:,} submissions over {CLIENTS} SMTP clients, {KILLS} kills (-9) and restart "
        f"(restarts took {', '.join(f'{s:.1f}' for s in restarts)} s; submitting took "
        f"{submitted:.1f} s, {run.tries - len(run.accepted):,} tries cut off or refused)"
    )
    print(
        f"max copies per recipient {worst} (goal ≤ 2); repeats {repeats:,} = "
        f"{100 * repeats / MESSAGES:.2f} % of messages (goal ≤ 2 %): {resent:,} sent again by "
        f"the agent, {resubmitted:,} submitted again after a 250 lost with the kill; "
        f"lost after 250: {len(lost)} (goal 0)"
    )
    if run.given_up or left:
        print(f"not finished: {len(run.given_up)} never accepted, {left} still queued")
