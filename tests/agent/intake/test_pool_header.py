"""``X-Mailfleet-Pool``: a submitted message goes out from the IP pool it names, by direct MX;
an unknown pool is refused at DATA; the header never leaves the agent."""

from __future__ import annotations

import smtplib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfleet.v1 import events_pb2, messages_pb2
from tests.agent.builders import wait_until
from tests.agent.intake.peer import DOMAIN, IntakeAgent, delivered, message
from tests.agent.intake.test_reload import hangup
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink, free_port, stall


@pytest.fixture
def mx(local_dns: LocalDns) -> Iterator[SmtpSink]:
    """The MX of pooled.test, a stand-in that records each client's address."""
    with SmtpSink(host="127.0.0.10", port=free_port("127.0.0.10")) as sink:
        local_dns.add("pooled.test", "MX", "10 mx.pooled.test.")
        local_dns.add("mx.pooled.test", "A", "127.0.0.10")
        yield sink


@pytest.fixture
def agent(
    sink: SmtpSink, mx: SmtpSink, local_dns: LocalDns, tmp_path: Path
) -> Iterator[IntakeAgent]:
    pools = f"""
[routes.mx]
type = "mx"
resolvers = ["127.0.0.1:{local_dns.port}"]
port = {mx.port}
tls = "none"
pool = "outbound"

[[ip_pools.pools.outbound.addresses]]
address = "127.0.0.2"
helo = "mta2.test"
weight = 3

[[ip_pools.pools.outbound.addresses]]
address = "127.0.0.3"
helo = "mta3.test"

[[ip_pools.pools.spare.addresses]]
address = "127.0.0.4"
"""
    made = IntakeAgent(tmp_path / "agent", sink.port, extra=pools)
    try:
        yield made
    finally:
        made.close()


def submit(agent: IntakeAgent, rcpts: list[str], extra: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", agent.ports.trusted, timeout=20) as smtp:
        smtp.ehlo("client.test")
        assert smtp.mail(f"app@{DOMAIN}")[0] == 250
        for rcpt in rcpts:
            assert smtp.rcpt(rcpt)[0] == 250
        code, reply = smtp.data(message(to=rcpts[0], extra=extra).encode())
    return code, reply.decode()


def test_the_pool_header_sends_from_the_pools_addresses(
    agent: IntakeAgent, sink: SmtpSink, mx: SmtpSink
) -> None:
    rcpts = [f"u{i}@pooled.test" for i in range(8)]
    code, reply = submit(agent, rcpts, "X-Mailfleet-Pool: outbound\r\n")
    assert code == 250, reply
    got = delivered(mx, set(rcpts))
    # Weighted 3:1 over the pool's two addresses, each with its own HELO.
    assert Counter((m.peer, m.helo) for m in got) == {
        ("127.0.0.2", "mta2.test"): 6,
        ("127.0.0.3", "mta3.test"): 2,
    }
    assert all(b"x-mailfleet" not in m.data.lower() for m in got)
    # Without the header the same domain takes the default route, the relay.
    assert submit(agent, ["plain@pooled.test"], "")[0] == 250
    assert [m.peer for m in delivered(sink, {"plain@pooled.test"})] == ["127.0.0.1"]
    assert "plain@pooled.test" not in {r for m in mx.received for r in m.rcpt_to}
    events = agent.stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=1000)).events
    queued = [e for e in events if e.type == events_pb2.EVENT_TYPE_MESSAGE_QUEUED]
    assert {e.email for e in queued if e.attrs.get("pool") == "outbound"} == set(rcpts)
    sent = [e for e in events if e.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED]
    assert {e.attrs["route"] for e in sent if e.email in rcpts} == {"mx"}


def test_a_pool_that_cannot_be_used_is_refused_at_data(agent: IntakeAgent) -> None:
    refusals = {
        "X-Mailfleet-Pool: nowhere\r\n": "no IP pool named 'nowhere'",
        "X-Mailfleet-Pool: spare\r\n": "no direct MX route sends from IP pool 'spare'",
        "X-Mailfleet-Pool: outbound\r\nX-Mailfleet-Route: relay\r\n": (
            "'relay' does not send from X-Mailfleet-Pool 'outbound'"
        ),
    }
    for header, says in refusals.items():
        code, reply = submit(agent, ["x@pooled.test"], header)
        assert code == 554 and reply.startswith("5.6.0") and says in reply, reply
    assert agent.queued() == []


def test_a_reload_that_takes_away_a_pool_queued_mail_asked_for_is_refused(
    agent: IntakeAgent, mx: SmtpSink
) -> None:
    mx.rule("held@pooled.test", stall(6))
    assert submit(agent, ["held@pooled.test"], "X-Mailfleet-Pool: outbound\r\n")[0] == 250
    wait_until(lambda: mx.active >= 1, 30, "the held delivery")
    config = agent.process.config
    good = config.read_text()
    config.write_text(good.replace('pool = "outbound"\n', ""))
    hangup(agent, "reload refused")
    assert "queued messages asked for IP pool 'outbound'" in agent.process.log()
    delivered(mx, {"held@pooled.test"})
    wait_until(lambda: agent.queued()[0].state == messages_pb2.MESSAGE_STATE_DELIVERED, 30, "it")
    hangup(agent, "reloaded ")  # nothing asks for it any more
