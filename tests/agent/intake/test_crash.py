"""kill -9 while clients submit: every message that got its 250 is delivered after the restart,
and nothing appears that the agent did not fully receive.

A message whose final dot was sent but whose reply never came is the one case SMTP cannot
decide (RFC 5321 section 6.1): it may or may not be delivered, and there is at most one per
connection at the moment of the kill.
"""

from __future__ import annotations

import smtplib
import threading
import time
from pathlib import Path

from tests.agent.intake.peer import DOMAIN, IntakeAgent, message, raw, wait_for
from tests.peers.smtp import SmtpSink

CLIENTS = 4
PER_CLIENT = 400  # a bound; the kill comes long before


class Submitter(threading.Thread):
    """Submits numbered messages until the agent goes away; sorts them by what it heard."""

    def __init__(self, intake: IntakeAgent, n: int) -> None:
        super().__init__(daemon=True)
        self._port = intake.ports.trusted
        self._n = n
        self.acked: set[str] = set()
        self.unanswered: set[str] = set()  # final dot maybe sent, no reply
        self.never_sent: set[str] = set()

    def run(self) -> None:
        try:
            smtp = smtplib.SMTP("127.0.0.1", self._port, timeout=10)
            smtp.ehlo()
        except OSError:
            return
        for i in range(PER_CLIENT):
            rcpt = f"c{self._n}-{i}@dest.example"
            try:
                smtp.mail(f"app@{DOMAIN}")
                smtp.rcpt(rcpt)
            except (OSError, smtplib.SMTPException):
                self.never_sent.add(rcpt)
                return
            try:
                code, _ = smtp.data(message(to=rcpt, extra=f"X-Seq: {rcpt}\r\n").encode())
            except (OSError, smtplib.SMTPException):
                self.unanswered.add(rcpt)
                return
            if code == 250:
                self.acked.add(rcpt)
            if i % 50 == 49:  # new connections now and then, as real clients do
                try:
                    smtp.quit()
                    smtp = smtplib.SMTP("127.0.0.1", self._port, timeout=10)
                    smtp.ehlo()
                except (OSError, smtplib.SMTPException):
                    return  # the agent was killed between two connections: nothing in flight


def test_kill_9_while_submitting_loses_no_acknowledged_message(
    sink: SmtpSink, tmp_path: Path
) -> None:
    intake = IntakeAgent(tmp_path / "agent", sink.port)
    try:
        clients = [Submitter(intake, n) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        wait_for(lambda: sum(len(c.acked) for c in clients) >= 200, 60)
        intake.process.kill()
        for c in clients:
            c.join(30)
        acked = set().union(*(c.acked for c in clients))
        unanswered = set().union(*(c.unanswered for c in clients))
        assert len(unanswered) <= CLIENTS
        intake.process.start()
        wait_for(lambda: acked <= {r for m in sink.received for r in m.rcpt_to}, 120)
        time.sleep(2)  # let anything else the restarted agent holds arrive too
        got = [m for m in sink.received if m.rcpt_to[0].startswith("c")]
        delivered = {m.rcpt_to[0] for m in got}
        assert acked <= delivered
        assert delivered <= acked | unanswered  # nothing the agent never fully took
        for m in got:  # and every one whole
            assert f"X-Seq: {m.rcpt_to[0]}".encode() in m.data
            assert m.data.endswith(b"Thank you for your order.\r\n")
    finally:
        intake.close()


def test_sigterm_tells_open_sessions_and_keeps_what_was_accepted(
    sink: SmtpSink, tmp_path: Path
) -> None:
    intake = IntakeAgent(tmp_path / "agent", sink.port)
    try:
        with raw(intake.ports.trusted) as idle, raw(intake.ports.trusted) as busy:
            assert idle.cmd("EHLO client.test").startswith("250")
            assert busy.cmd("EHLO client.test").startswith("250")
            assert busy.cmd(f"MAIL FROM:<app@{DOMAIN}>").startswith("250")
            assert busy.cmd("RCPT TO:<before-stop@dest.example>").startswith("250")
            assert busy.cmd("DATA").startswith("354")
            busy.send(message(to="before-stop@dest.example").encode() + b".\r\n")
            reply = busy.reply()
            assert reply.startswith("250 2.0.0")
            assert intake.process.terminate() == 0
            assert idle.reply().startswith("421 4.3.2")
            assert idle.closed()
        intake.process.start()
        assert [m.email for m in intake.queued()] == ["before-stop@dest.example"]
    finally:
        intake.close()
