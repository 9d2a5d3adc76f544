"""Durability: what the agent acknowledged survives kill -9."""

from __future__ import annotations

from mailfleet.v1 import campaigns_pb2, messages_pb2
from tests.agent.builders import batches, campaign_request, recipients, transactional
from tests.peers.agent import AgentProcess


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
    assert msg.state == messages_pb2.MESSAGE_STATE_QUEUED
    # and the idempotency keys still hold after the restart
    assert after.campaigns.CreateCampaign(campaign_request("crash")).id == c.id
    assert after.transactional.SendMessage(transactional("crash-tx")).duplicate
