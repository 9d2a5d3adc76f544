"""A full disk is a state, not a crash: the intake answers 452 4.3.1 and keeps the session,
a delivery result that cannot be written waits in memory, and everything resumes by itself
once space is freed (a real agent on a small tmpfs, a real SMTP client and sink)."""

from __future__ import annotations

import json
import smtplib
from pathlib import Path

from mailfleet.v1 import messages_pb2
from tests.agent.intake.peer import DOMAIN, IntakeAgent, delivered, message, wait_for
from tests.peers.small_disk import SmallDisk
from tests.peers.smtp import Gate, SmtpSink, hold

SENDER = f"app@{DOMAIN}"
# Far more than the store's log can take without growing: this write needs new space.
_BIG_BODY = ("x" * 76 + "\r\n") * (4 * 1024 * 1024 // 78)


def _metric(agent: IntakeAgent, name: str) -> float:
    _, text = agent.process.http_get("/metrics")
    [value] = [
        line.split()[1] for line in text.decode().splitlines() if line.startswith(f"{name} ")
    ]
    return float(value)


def _state(agent: IntakeAgent, email: str) -> int:
    [found] = [m for m in agent.queued() if m.email == email]
    return found.state


def test_a_full_disk_refuses_new_mail_with_452_keeps_results_and_recovers_alone(
    tmp_path: Path,
) -> None:
    gate = Gate()
    with SmtpSink() as sink, SmallDisk(tmp_path / "agent", mib=16) as disk:
        sink.rule("held@dest.example", hold(gate, at="data"))
        agent = IntakeAgent(disk.path, sink.port)
        try:
            port = agent.ports.trusted
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as first:
                first.sendmail(SENDER, ["held@dest.example"], message(to="held@dest.example"))
            assert gate.reached.wait(30), "the delivery never reached the sink"

            disk.fill()
            client = smtplib.SMTP("127.0.0.1", port, timeout=30)
            client.ehlo()
            assert client.mail(SENDER)[0] == 250
            assert client.rcpt("big@dest.example")[0] == 250
            code, text = client.data(message(to="big@dest.example") + _BIG_BODY)
            assert (code, text) == (452, b"4.3.1 Insufficient system storage; try again later")
            # A new transaction on the same session: refused up front, the session stays.
            assert client.mail(SENDER)[0] == 452
            assert client.noop()[0] == 250

            status, body = agent.process.http_get("/healthz")
            assert status == 503
            assert json.loads(body)["reason"] == f"disk full at {disk.path}"
            assert _metric(agent, "mailfleet_store_disk_full") == 1

            # The delivery under way ends on the full disk: its result is written if it fits
            # in the store's log, else it waits in memory (as in tests/agent/api/test_disk_full.py).
            gate.open()
            delivered(sink, {"held@dest.example"})
            client.rset()
            assert client.mail(SENDER)[0] == 452  # still full: nothing new is accepted

            disk.free()
            wait_for(lambda: agent.process.http_get("/healthz")[0] == 200, timeout=30)
            assert _state(agent, "held@dest.example") == messages_pb2.MESSAGE_STATE_DELIVERED
            assert _metric(agent, "mailfleet_store_disk_full") == 0
            assert _metric(agent, "mailfleet_store_held_writes") == 0

            client.rset()
            client.sendmail(SENDER, ["after@dest.example"], message(to="after@dest.example"))
            client.quit()
            delivered(sink, {"after@dest.example"})
            assert agent.process.proc is not None and agent.process.proc.poll() is None
        finally:
            gate.open()
            agent.close()
        got = [rcpt for m in sink.received for rcpt in m.rcpt_to]
        assert sorted(got) == ["after@dest.example", "held@dest.example"]  # each once
        log = agent.process.log().splitlines()
        assert len([line for line in log if " WARNING " in line and "disk full at" in line]) == 1
        assert len([line for line in log if " INFO " in line and "disk space is back" in line]) == 1
        assert not [line for line in log if "Traceback" in line]
