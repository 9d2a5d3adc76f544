"""Tenant isolation: another tenant's ids answer NOT_FOUND, lists show only one's own."""

from __future__ import annotations

import grpc
import pytest

from mailfleet.v1 import admin_pb2, campaigns_pb2, events_pb2, messages_pb2
from tests.agent.builders import batches, campaign_request, recipients, transactional
from tests.peers.agent import AgentProcess, Stubs


def _tenant_stubs(agent: AgentProcess, admin: Stubs, name: str) -> Stubs:
    tenant = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name=name), timeout=5)
    key = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name=f"{name} key"), timeout=5
    )
    return agent.stubs(key.secret)


def test_tenants_never_see_each_other(agent_process: AgentProcess, admin: Stubs) -> None:
    alice = _tenant_stubs(agent_process, admin, "alice")
    bob = _tenant_stubs(agent_process, admin, "bob")
    # the same idempotency key in two tenants makes two campaigns
    a = alice.campaigns.CreateCampaign(campaign_request("same-key"))
    b = bob.campaigns.CreateCampaign(campaign_request("same-key"))
    assert a.id != b.id
    alice.campaigns.UploadRecipients(batches(a.id, recipients(5)))
    sent = alice.transactional.SendMessage(transactional("order-1"))
    ref = campaigns_pb2.CampaignRef(campaign_id=a.id)

    for call in (
        bob.campaigns.GetCampaign,
        bob.campaigns.StartCampaign,
        bob.campaigns.PauseCampaign,
        bob.campaigns.CancelCampaign,
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(ref)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        bob.campaigns.UploadRecipients(batches(a.id, recipients(1, start=99)))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        bob.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=sent.message_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # the same idempotency key in another tenant is a new message, not alice's
    assert bob.transactional.SendMessage(transactional("order-1")).message_id != sent.message_id

    assert [
        c.id for c in bob.campaigns.ListCampaigns(campaigns_pb2.ListCampaignsRequest()).campaigns
    ] == [b.id]
    assert not bob.messages.ListMessages(
        messages_pb2.ListMessagesRequest(campaign_id=a.id)
    ).messages
    bob_events = bob.events.ListEvents(events_pb2.ListEventsRequest()).events
    assert bob_events and all(e.campaign_id in (0, b.id) for e in bob_events)
    assert all(e.message_id != sent.message_id for e in bob_events)
    alice_counts = alice.campaigns.GetCampaign(ref).counts
    assert alice_counts.queued == 5
