"""Durability: what the agent acknowledged survives kill -9."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from mailfleet.v1 import campaigns_pb2, messages_pb2
from tests.agent.builders import (
    batches,
    campaign_request,
    recipients,
    relay_config,
    transactional,
    wait_until,
)
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink


def test_acknowledged_upload_survives_kill_9(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    c = stubs.campaigns.CreateCampaign(campaign_request("crash"))
    summary = stubs.campaigns.UploadRecipients(batches(c.id, recipients(20_000), size=1000))
    assert summary.accepted == 20_000
    sent = stubs.transactional.SendMessage(transactional("crash-tx"))
    agent_process.kill()  # right after the acknowledgement, no clean shutdown

    agent_process.start()
    after = agent_process.stubs()
    got = after.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))
    assert got.counts.queued == got.counts.total == 20_000
    msg = after.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=sent.message_id))
    assert msg.idempotency_key == "crash-tx"  # still there (a fresh agent then captures it)
    # and the idempotency keys still hold after the restart
    assert after.campaigns.CreateCampaign(campaign_request("crash")).id == c.id
    assert after.transactional.SendMessage(transactional("crash-tx")).duplicate


def test_kill_9_mid_campaign_loses_nothing_and_repeats_at_most_the_in_flight_window(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    window = 500
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink, f"max_in_flight = {window}"))
        stubs = agent.stubs()
        c = stubs.campaigns.CreateCampaign(campaign_request("crash-delivery"))
        total = 20_000
        stubs.campaigns.UploadRecipients(batches(c.id, recipients(total), size=2000))
        ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
        stubs.campaigns.StartCampaign(ref)
        wait_until(lambda: len(sink.received) >= 4000, 120, "delivery to be well under way")
        agent.kill()
        agent.start()
        after = agent.stubs()
        wait_until(
            lambda: (
                after.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED
            ),
            300,
            "the campaign to complete after the restart",
        )
        got = after.campaigns.GetCampaign(ref).counts
        assert got.delivered == got.total == total
        arrivals = Counter(r.rcpt_to[0] for r in sink.received)
        assert set(arrivals) == {f"user{i}@example.com" for i in range(total)}  # none lost
        repeats = sum(n - 1 for n in arrivals.values())
        assert repeats <= window, repeats
