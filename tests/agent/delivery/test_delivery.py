"""Delivery end to end: a real agent, its worker processes, a real SMTP sink on loopback."""

from __future__ import annotations

import bisect
import email
import email.policy
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from mailfleet.v1 import campaigns_pb2, capture_pb2, common_pb2, events_pb2, messages_pb2
from tests.agent.builders import (
    batches,
    campaign_request,
    recipients,
    relay_config,
    transactional,
    wait_until,
)
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.dkimverify import mail_dkim, publish_key
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink, accept, defer, refuse

CampaignState = campaigns_pb2.CampaignState
AgentFactory = Callable[[str], AgentProcess]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def campaign_with(
    stubs: Stubs, rows: list[common_pb2.Recipient], key: str = "c", **fields: object
) -> int:
    c = stubs.campaigns.CreateCampaign(campaign_request(key, **fields))
    summary = stubs.campaigns.UploadRecipients(batches(c.id, rows, size=1000))
    assert summary.accepted == len(rows), summary.rejections[:3]
    return c.id


def counts(stubs: Stubs, campaign_id: int) -> common_pb2.StateCounts:
    return stubs.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=campaign_id)).counts


def test_a_campaign_is_delivered_once_per_recipient_through_the_relay(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    agent = agent_factory(relay_config(sink))
    stubs = agent.stubs()
    cid = campaign_with(stubs, recipients(300))
    ref = campaigns_pb2.CampaignRef(campaign_id=cid)
    stubs.campaigns.StartCampaign(ref)
    final = list(stubs.campaigns.WatchCampaign(ref, timeout=120))[-1]
    assert final.state == CampaignState.CAMPAIGN_STATE_COMPLETED
    assert final.counts.delivered == final.counts.total == 300
    got = sink.wait_for(300)
    assert sorted(r.rcpt_to[0] for r in got) == sorted(f"user{i}@example.com" for i in range(300))
    assert sink.duplicates() == []
    first = email.message_from_bytes(got[0].data, policy=email.policy.default)
    n = int(first["To"].addresses[0].username.removeprefix("user"))
    assert first["Subject"] == f"Hello First{n}"
    assert "Paris" in first.get_body(("html",)).get_content()  # type: ignore[union-attr]
    msgs = stubs.messages.ListMessages(messages_pb2.ListMessagesRequest(campaign_id=cid, limit=5))
    assert all(m.state == messages_pb2.MESSAGE_STATE_DELIVERED for m in msgs.messages)
    assert all(m.last_reply.startswith("250") for m in msgs.messages)
    delivered = [
        e
        for e in stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10000)).events
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED
    ]
    assert len(delivered) == 300 and len({e.message_id for e in delivered}) == 300


def test_refusals_bounce_deferrals_retry_and_only_the_broken_message_fails(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    sink.rule("gone@example.com", refuse("550 5.1.1 No such user"))
    sink.rule("later@example.com", defer("451 4.2.0 Mailbox busy"))
    agent = agent_factory(relay_config(sink, "retry_base_seconds = 1\nretry_max_seconds = 2"))
    stubs = agent.stubs()
    rows = [
        common_pb2.Recipient(email="ok@example.com", values=["A", "B"]),
        common_pb2.Recipient(email="gone@example.com", values=["A", "B"]),
        common_pb2.Recipient(email="later@example.com", values=["A", "B"]),
        common_pb2.Recipient(email="bomb@example.com", values=["A", "B"], fields={"bomb": "yes"}),
    ]
    looping = common_pb2.Content(
        subject="Hi",
        text="{% if bomb %}{% for i in range(100000) %}{% for j in range(100000) %}"
        "{% endfor %}{% endfor %}{% endif %}Hello",
    )
    cid = campaign_with(stubs, rows, content=looping)
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=cid))

    def by_email() -> dict[str, messages_pb2.Message]:
        listed = stubs.messages.ListMessages(messages_pb2.ListMessagesRequest(campaign_id=cid))
        return {m.email: m for m in listed.messages}

    wait_until(lambda: by_email()["later@example.com"].attempts >= 2, 30, "a retry")
    now = by_email()
    assert now["ok@example.com"].state == messages_pb2.MESSAGE_STATE_DELIVERED
    assert now["gone@example.com"].state == messages_pb2.MESSAGE_STATE_BOUNCED
    assert now["gone@example.com"].last_reply.startswith("550 5.1.1")
    assert now["bomb@example.com"].state == messages_pb2.MESSAGE_STATE_FAILED
    assert "render" in now["bomb@example.com"].last_reply
    assert now["later@example.com"].state in (
        messages_pb2.MESSAGE_STATE_DEFERRED,
        messages_pb2.MESSAGE_STATE_IN_FLIGHT,
    )
    bounced = [
        e
        for e in stubs.events.ListEvents(events_pb2.ListEventsRequest()).events
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_BOUNCED
    ]
    assert bounced[0].attrs["enhanced"] == "5.1.1"

    sink.rule("later@example.com", accept())  # the destination recovers
    wait_until(
        lambda: by_email()["later@example.com"].state == messages_pb2.MESSAGE_STATE_DELIVERED,
        30,
        "the retry to succeed",
    )
    assert sorted(r.rcpt_to[0] for r in sink.received) == ["later@example.com", "ok@example.com"]
    wait_until(
        lambda: (
            stubs.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=cid)).state
            == CampaignState.CAMPAIGN_STATE_COMPLETED
        ),
        10,
        "completion",
    )


def test_the_campaign_throttle_holds_at_the_wire_and_pause_stops_sending(
    agent_factory: AgentFactory,
) -> None:
    # The relay answers EHLO only after 3 s: the workers are slow to send, as on a loaded
    # machine, while the scheduler keeps claiming. What they held must still leave at the
    # campaign's rate, not together once the connections are up. The two domains are
    # sharded to the two workers, which share the rate.
    with SmtpSink(ehlo_delay=3.0) as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        rows = recipients(50, domain="example.com") + recipients(50, 50, domain="example.net")
        cid = campaign_with(stubs, rows, throttle_per_minute=300)  # 5 a second
        ref = campaigns_pb2.CampaignRef(campaign_id=cid)
        stubs.campaigns.StartCampaign(ref)
        wait_until(lambda: len(sink.received) >= 30, 90, "30 throttled messages")
        # The rate is read from the sink's arrival times, in every one-second window: the
        # bucket lets out 5 a second and holds one token, so 6; 2 more for the sink's own
        # timing on a loaded machine.
        times = sorted(r.at for r in sink.received)
        busiest = max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))
        assert busiest <= 5 + 1 + 2, busiest
        stubs.campaigns.PauseCampaign(ref)
        paused_at = _settled_count(sink)
        time.sleep(2.0)
        assert len(sink.received) == paused_at < 100
        assert counts(stubs, cid).queued == 100 - paused_at


def _settled_count(sink: SmtpSink, quiet: float = 1.5, timeout: float = 30.0) -> int:
    """How many messages the sink holds once nothing has arrived for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    count, since = len(sink.received), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise AssertionError("messages kept arriving after the pause")
        time.sleep(0.1)
        if len(sink.received) != count:
            count, since = len(sink.received), time.monotonic()
    return count


def test_a_fresh_agent_captures_and_the_capture_mailbox_is_readable(
    agent_process: AgentProcess, admin: Stubs
) -> None:
    sent = admin.transactional.SendMessage(transactional("capture-1"))
    wait_until(
        lambda: (
            admin.messages.GetMessage(
                messages_pb2.GetMessageRequest(message_id=sent.message_id)
            ).state
            == messages_pb2.MESSAGE_STATE_DELIVERED
        ),
        30,
        "capture",
    )
    listed = admin.capture.ListCaptured(capture_pb2.ListCapturedRequest()).messages
    assert [(m.message_id, m.rcpt_to) for m in listed] == [(sent.message_id, "buyer@example.com")]
    assert listed[0].mail_from == "orders@shop.example" and not listed[0].data
    full = admin.capture.GetCaptured(capture_pb2.GetCapturedRequest(message_id=sent.message_id))
    parsed = email.message_from_bytes(full.data, policy=email.policy.default)
    assert parsed["Subject"] == "Order 1234"
    assert full.size == len(full.data)
    with pytest.raises(grpc.RpcError) as err:
        admin.capture.GetCaptured(capture_pb2.GetCapturedRequest())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_worker_that_dies_is_replaced_and_its_messages_are_sent(
    agent_factory: AgentFactory,
) -> None:
    sink = SmtpSink(reply_delay=0.02).start()  # slow enough that the kill lands mid-campaign
    agent = agent_factory(relay_config(sink))
    stubs = agent.stubs()
    cid = campaign_with(stubs, recipients(400))
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=cid))
    wait_until(lambda: len(sink.received) >= 20, 30, "delivery to begin")
    victim = agent.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: counts(stubs, cid).delivered == 400, 120, "every message delivered")
    assert victim not in agent.workers()
    assert len(agent.workers()) == 2
    assert {r.rcpt_to[0] for r in sink.received} == {f"user{i}@example.com" for i in range(400)}
    assert "restarting" in agent.log()
    sink.stop()


def test_sent_messages_carry_dkim_signatures_an_independent_verifier_accepts(
    tmp_path: Path, sink: SmtpSink, local_dns: LocalDns
) -> None:
    agent = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
    publish_key(agent.config, "shop.example", "e2e", local_dns)
    agent.start()
    try:
        stubs = agent.stubs()
        req = transactional("dkim-e2e")
        req.sender.from_address = "orders@shop.example"
        stubs.transactional.SendMessage(req)
        cid = campaign_with(stubs, recipients(3), key="dkim")
        stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=cid))
        got = sink.wait_for(4, timeout=60)
    finally:
        agent.close()
    for received in got:
        assert received.data.startswith(b"DKIM-Signature:")
        assert mail_dkim(received.data, local_dns, tmp_path) == {"rsa-sha256": "pass"}
    tampered = got[0].data.replace(b"Hello", b"Hallo").replace(b"Order", b"0rder")
    assert mail_dkim(tampered, local_dns, tmp_path)["rsa-sha256"].startswith("fail")
