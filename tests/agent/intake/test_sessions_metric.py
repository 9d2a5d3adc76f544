"""``mailfleet_intake_sessions_total`` counts real SMTP sessions by listener and result."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.builders import wait_until
from tests.agent.intake.peer import DOMAIN, IntakeAgent, RawSmtp, message, raw
from tests.agent.telemetry.test_metrics import scrape
from tests.peers.smtp import SmtpSink

METRIC = "mailfleet_intake_sessions_total"


@pytest.fixture
def agent(sink: SmtpSink, tmp_path: Path) -> Iterator[IntakeAgent]:
    # A greeting pause, so that a client can talk before it (and be refused).
    made = IntakeAgent(tmp_path / "agent", sink.port, intake="greet_pause_seconds = 0.3")
    try:
        yield made
    finally:
        made.close()


def sessions(agent: IntakeAgent) -> dict[tuple[str, str], float]:
    """The metric's non-zero samples by (listener, result)."""
    return {
        (dict(labels)["listener"], dict(labels)["result"]): v
        for (name, labels), v in scrape(agent.process).items()
        if name == METRIC and v
    }


def test_sessions_are_counted_per_listener_by_result(agent: IntakeAgent) -> None:
    ports = agent.ports
    submission, trusted = f"127.0.0.1:{ports.submission}", f"127.0.0.1:{ports.trusted}"
    inbound = f"127.0.0.1:{ports.inbound}"
    password = agent.user("metric-app")
    with smtplib.SMTP("127.0.0.1", ports.submission, timeout=20) as smtp:
        smtp.starttls(context=agent.client_context())
        smtp.login("metric-app", password)
        assert smtp.sendmail(f"app@{DOMAIN}", ["a@dest.example"], message()) == {}
    for _ in range(2):
        with smtplib.SMTP("127.0.0.1", ports.submission, timeout=20) as smtp:
            smtp.starttls(context=agent.client_context())
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login("metric-app", "wrong password")
    with smtplib.SMTP("127.0.0.1", ports.trusted, timeout=20) as smtp:
        assert smtp.sendmail(f"app@{DOMAIN}", ["b@dest.example"], message()) == {}
    with raw(ports.inbound) as c:  # an attempt to relay
        assert c.cmd("EHLO client.test").startswith("250")
        assert c.cmd("MAIL FROM:<a@elsewhere.example>").startswith("250")
        assert c.cmd("RCPT TO:<b@elsewhere.example>").startswith("550 5.7.1")
        assert c.cmd("QUIT").startswith("221")
    with raw(ports.inbound) as c:  # a probe
        assert c.cmd("QUIT").startswith("221")
    early = RawSmtp(ports.trusted, greet=False)
    early.send(b"EHLO hasty.test\r\n")
    assert early.reply().startswith("554 5.5.1")
    early.close()

    expected = {
        (submission, "accepted"): 1.0,
        (submission, "auth_failed"): 2.0,
        (trusted, "accepted"): 1.0,
        (trusted, "refused"): 1.0,
        (inbound, "rejected"): 1.0,
        (inbound, "idle"): 1.0,
    }
    wait_until(lambda: sessions(agent) == expected, 20, f"the sessions counted as {expected}")
