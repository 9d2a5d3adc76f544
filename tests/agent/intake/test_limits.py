"""Limits, each configured low: SIZE, recipients, connections per IP, messages per session,
messages per minute per user, idle timeout."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator

import pytest

from tests.agent.intake.peer import DOMAIN, IntakeAgent, RawSmtp, message, raw
from tests.peers.smtp import SmtpSink

LIMITS = """
max_message_bytes = 100000
max_connections_per_ip = 4
max_messages_per_session = 3
messages_per_minute_per_user = 4
idle_timeout_seconds = 2
"""


@pytest.fixture(scope="module")
def intake(sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntakeAgent]:
    """An agent with every limit set low."""
    agent = IntakeAgent(tmp_path_factory.mktemp("limits") / "agent", sink.port, LIMITS)
    try:
        yield agent
    finally:
        agent.close()


def test_size_is_advertised_and_enforced(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    with smtplib.SMTP("127.0.0.1", intake.ports.trusted, timeout=20) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["size"] == "100000"
        assert smtp.mail(f"app@{DOMAIN}", ["SIZE=200000"])[0] == 552
        assert smtp.mail(f"app@{DOMAIN}", ["SIZE=1000"])[0] == 250
        assert smtp.rcpt("big@dest.example")[0] == 250
        big = message(extra="X-Pad: y\r\n") + ("z" * 900 + "\r\n") * 150
        assert smtp.data(big.encode())[0] == 552
    assert len(intake.queued()) == before


def test_a_hundred_recipients_are_taken_and_the_next_deferred(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    with smtplib.SMTP("127.0.0.1", intake.ports.trusted, timeout=20) as smtp:
        smtp.ehlo()
        assert smtp.mail(f"app@{DOMAIN}")[0] == 250
        for i in range(100):
            assert smtp.rcpt(f"r{i}@dest.example")[0] == 250
        code, reply = smtp.rcpt("r100@dest.example")
        assert (code, reply[:5]) == (452, b"4.5.3")
        code, reply = smtp.data(message().encode())
    assert code == 250
    first, last = (int(x) for x in reply.decode().rpartition(" ")[2].split("-"))
    assert last - first == 99
    assert len(intake.queued()) == before + 100


def test_connections_per_ip_are_capped(intake: IntakeAgent) -> None:
    open_ = [RawSmtp(intake.ports.trusted) for _ in range(4)]
    try:
        assert all(c.greeting.startswith("220") for c in open_)
        extra = RawSmtp(intake.ports.trusted)
        assert extra.greeting.startswith("421 4.7.0")
        assert extra.closed()
        extra.close()
        # Another address is counted on its own.
        with raw(intake.ports.trusted, source="127.0.0.2") as other:
            assert other.greeting.startswith("220")
        open_.pop().close()
        deadline = time.monotonic() + 10
        while True:
            again = RawSmtp(intake.ports.trusted)
            ok = again.greeting.startswith("220")
            again.close()
            if ok or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert ok
    finally:
        for c in open_:
            c.close()


def test_messages_per_session_are_capped(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    with raw(intake.ports.trusted) as c:
        assert c.cmd("EHLO client.test").startswith("250")
        for i in range(3):
            assert c.cmd(f"MAIL FROM:<app@{DOMAIN}>").startswith("250")
            assert c.cmd(f"RCPT TO:<s{i}@dest.example>").startswith("250")
            assert c.cmd("DATA").startswith("354")
            c.send(message().encode() + b".\r\n")
            assert c.reply().startswith("250 2.0.0")
        assert c.cmd(f"MAIL FROM:<app@{DOMAIN}>").startswith("421 4.7.0")
        assert c.closed()
    assert len(intake.queued()) == before + 3


def test_a_users_message_rate_is_limited(intake: IntakeAgent) -> None:
    password = intake.user("rate-app")
    before = len(intake.queued())
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.login("rate-app", password)
        for _ in range(3):  # the session cap is 3 messages
            assert smtp.sendmail(f"app@{DOMAIN}", ["q@dest.example"], message()) == {}
    with smtplib.SMTP("127.0.0.1", intake.ports.submission, timeout=20) as smtp:
        smtp.starttls(context=intake.client_context())
        smtp.login("rate-app", password)
        assert smtp.sendmail(f"app@{DOMAIN}", ["q@dest.example"], message()) == {}
        code, reply = smtp.mail(f"app@{DOMAIN}")
        assert (code, reply[:5]) == (451, b"4.7.1")
    assert len(intake.queued()) == before + 4


def test_an_idle_session_is_closed(intake: IntakeAgent) -> None:
    with raw(intake.ports.trusted) as c:
        assert c.cmd("EHLO client.test").startswith("250")
        time.sleep(3)
        assert c.closed()
