"""The whole loop on a real agent: a campaign to a local MX stand-in that refuses some
recipients; a DSN and an ARF report handed to the agent's own SMTP intake for its bounce
domain; a one-click unsubscribe; then a second campaign to the same list reaches only the
recipients nobody reported."""

from __future__ import annotations

import email
import email.policy
import http.client
import re
import smtplib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mailfleet.agent.client.localagent import free_port
from mailfleet.v1 import events_pb2, suppression_pb2
from tests.agent.builders import run_campaign, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.dns import LocalDns
from tests.peers.smtp import Received, SmtpSink, refuse

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
BOUNCE_DOMAIN = "bounce.shop.example"
LIST = [
    "dead1@example.com",
    "dead2@example.com",
    "dsn@example.com",
    "arf@example.com",
    "click@example.com",
    "ok1@example.com",
    "ok2@example.com",
]
REPORTED = LIST[:5]


@pytest.fixture
def mx(local_dns: LocalDns) -> Iterator[SmtpSink]:
    """The MX of example.com: refuses dead1 and dead2 with 550 5.1.1, accepts the rest."""
    with SmtpSink() as sink:
        for address in ("dead1@example.com", "dead2@example.com"):
            sink.rule(address, refuse("550 5.1.1 <" + address + ">: Recipient address rejected"))
        local_dns.add("example.com", "MX", "10 mx.example.com.")
        local_dns.add("mx.example.com", "A", "127.0.0.1")
        yield sink


@pytest.fixture
def agent(tmp_path: Path, mx: SmtpSink, local_dns: LocalDns) -> Iterator[AgentProcess]:
    intake_port = free_port()
    config = f"""
[delivery]
workers = 1
default_route = "mx"

[routes.mx]
type = "mx"
resolvers = ["127.0.0.1:{local_dns.port}"]
port = {mx.port}
tls = "none"
timeout_seconds = 10

[intake]
bounce_domain = "{BOUNCE_DOMAIN}"

[[intake.listeners]]
address = "127.0.0.1"
port = {intake_port}
tls = "none"
auth_required = false
"""
    proc = AgentProcess(tmp_path / "agent", extra_config=config)
    proc.intake_port = intake_port  # type: ignore[attr-defined]
    proc.start()
    try:
        yield proc
    finally:
        proc.close()


def _suppressed(stubs: Stubs) -> list[str]:
    checked = stubs.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=LIST)
    )
    return [s.email for s in checked.statuses if s.suppressed]


def _submit(agent: AgentProcess, mail_from: str, rcpt_to: str, data: bytes) -> None:
    port: int = agent.intake_port  # type: ignore[attr-defined]
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("mx.example.com")
        client.sendmail(mail_from, [rcpt_to], data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def test_bounces_complaints_and_unsubscribes_keep_the_next_campaign_off_those_addresses(
    agent: AgentProcess, mx: SmtpSink
) -> None:
    stubs = agent.stubs()
    first = run_campaign(stubs, "first", LIST)
    assert (first.counts.delivered, first.counts.bounced) == (5, 2)
    # The refusals at RCPT were hard bounces: suppressed already.
    assert _suppressed(stubs) == ["dead1@example.com", "dead2@example.com"]
    sent: dict[str, Received] = {r.rcpt_to[0]: r for r in mx.received}
    assert sorted(sent) == sorted(LIST[2:])
    for received in sent.values():
        assert re.fullmatch(rf"b-[0-9a-f]+@{re.escape(BOUNCE_DOMAIN)}", received.mail_from)

    # A DSN for dsn@, to the VERP return path its message went out with.
    dsn_mail = sent["dsn@example.com"]
    dsn = (SAMPLES / "postfix-user-unknown.eml").read_bytes()
    dsn = dsn.replace(b"ann@example.com", b"dsn@example.com")
    dsn = dsn.replace(b"b-TOKEN@bounce.shop.example", dsn_mail.mail_from.encode())
    _submit(agent, "", dsn_mail.mail_from, dsn)

    # An ARF report for arf@, to the CFBL-Address, with a redacted recipient: matched by the
    # CFBL-Feedback-ID of the reported copy.
    arf_mail = email.message_from_bytes(sent["arf@example.com"].data, policy=email.policy.default)
    fbl_address = str(arf_mail["CFBL-Address"]).split(";")[0]
    assert fbl_address == f"fbl@{BOUNCE_DOMAIN}"
    arf = (SAMPLES / "arf-redacted.eml").read_bytes()
    arf = arf.replace(b"FEEDBACKID", str(arf_mail["CFBL-Feedback-ID"]).encode())
    _submit(agent, "fbl@isp.example.net", fbl_address, arf)

    # A forged VERP token: dropped and counted.
    forged = f"b-{'a' * 24}@{BOUNCE_DOMAIN}"
    _submit(agent, "", forged, dsn)

    # A one-click unsubscribe for click@.
    click_mail = email.message_from_bytes(
        sent["click@example.com"].data, policy=email.policy.default
    )
    (url,) = re.findall(r"<(http[^>]+)>", str(click_mail["List-Unsubscribe"]))
    conn = http.client.HTTPConnection("127.0.0.1", agent.http_port, timeout=10)
    conn.request("POST", urlsplit(url).path, body=b"List-Unsubscribe=One-Click")
    assert conn.getresponse().status == 200
    conn.close()

    wait_until(lambda: _suppressed(stubs) == REPORTED, 30, "the reports to be processed")
    stats = stubs.suppression.GetFeedbackStats(suppression_pb2.GetFeedbackStatsRequest())
    assert dict(stats.inbound) == {"bounce": 1, "complaint": 1, "forged": 1}
    (domain,) = stats.domains
    assert (domain.domain, domain.delivered, domain.complaints) == ("example.com", 5, 1)
    assert domain.over_threshold  # 20 % of delivered mail complained
    events = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    by_type = {
        t: sorted(e.email for e in events if e.type == t)
        for t in (
            events_pb2.EVENT_TYPE_MESSAGE_COMPLAINED,
            events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED,
            events_pb2.EVENT_TYPE_MESSAGE_BOUNCED,
        )
    }
    assert by_type == {
        events_pb2.EVENT_TYPE_MESSAGE_COMPLAINED: ["arf@example.com"],
        events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED: ["click@example.com"],
        events_pb2.EVENT_TYPE_MESSAGE_BOUNCED: [
            "dead1@example.com",
            "dead2@example.com",
            "dsn@example.com",
        ],
    }

    mx.clear()
    second = run_campaign(stubs, "second", LIST)
    assert (second.counts.suppressed, second.counts.delivered) == (5, 2)
    assert sorted(r.rcpt_to[0] for r in mx.received) == ["ok1@example.com", "ok2@example.com"]
