"""Key scopes and expiry, enforced by a real agent for the calls each scope may make."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mailfleet.v1 import (
    admin_pb2,
    agent_pb2,
    campaigns_pb2,
    events_pb2,
    suppression_pb2,
)
from tests.agent.builders import transactional, wait_until
from tests.peers.agent import AgentProcess, Stubs


def _key(
    agent: AgentProcess, scope: admin_pb2.KeyScope.ValueType, expires_at: float | None = None
) -> tuple[admin_pb2.ApiKey, Stubs]:
    request = admin_pb2.CreateApiKeyRequest(tenant_id=1, name="scoped", scope=scope)
    if expires_at is not None:
        stamp = Timestamp()
        stamp.FromNanoseconds(int(expires_at * 1e9))
        request.expires_at.CopyFrom(stamp)
    made = agent.stubs().admin.CreateApiKey(request, timeout=5)
    return made.key, agent.stubs(made.secret)


def _refusal(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value


def test_a_send_only_key_sends_and_nothing_else(shared_agent: AgentProcess) -> None:
    key, stubs = _key(shared_agent, admin_pb2.KEY_SCOPE_SEND)
    assert key.scope == admin_pb2.KEY_SCOPE_SEND and not key.admin
    assert stubs.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5).tenant_id == 1
    stubs.transactional.SendMessage(transactional("scoped-send-1"), timeout=10)
    refused = _refusal(
        lambda: stubs.events.ListEvents(events_pb2.ListEventsRequest(), timeout=5)
    )
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.details() == (
        "ListEvents needs an API key with the read scope (or a wider one);"
        " this key has the send scope"
    )


def test_a_read_only_key_reads_but_cannot_change_or_send(shared_agent: AgentProcess) -> None:
    _, stubs = _key(shared_agent, admin_pb2.KEY_SCOPE_READ)
    stubs.campaigns.ListCampaigns(campaigns_pb2.ListCampaignsRequest(), timeout=5)
    stubs.events.ListEvents(events_pb2.ListEventsRequest(), timeout=5)
    for call in (
        lambda: stubs.transactional.SendMessage(transactional("scoped-read-1"), timeout=5),
        lambda: stubs.campaigns.CreateCampaign(
            campaigns_pb2.CreateCampaignRequest(idempotency_key="r", name="r"), timeout=5
        ),
        lambda: stubs.suppression.AddSuppressions(
            suppression_pb2.AddSuppressionsRequest(), timeout=5
        ),
    ):
        assert _refusal(call).code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_campaigns_key_adds_suppressions_but_cannot_remove_them(
    shared_agent: AgentProcess,
) -> None:
    _, stubs = _key(shared_agent, admin_pb2.KEY_SCOPE_CAMPAIGNS)
    entry = suppression_pb2.SuppressionEntry(email="gone@example.com")
    stubs.suppression.AddSuppressions(
        suppression_pb2.AddSuppressionsRequest(entries=[entry]), timeout=5
    )
    refused = _refusal(
        lambda: stubs.suppression.RemoveSuppressions(
            suppression_pb2.RemoveSuppressionsRequest(emails=["gone@example.com"]), timeout=5
        )
    )
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "needs an API key with the tenant scope" in (refused.details() or "")


def test_an_audience_key_cannot_read_campaigns_and_admin_needs_admin(
    shared_agent: AgentProcess,
) -> None:
    _, audience = _key(shared_agent, admin_pb2.KEY_SCOPE_AUDIENCE)
    refused = _refusal(
        lambda: audience.campaigns.ListCampaigns(campaigns_pb2.ListCampaignsRequest(), timeout=5)
    )
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    _, tenant = _key(shared_agent, admin_pb2.KEY_SCOPE_TENANT)
    refused = _refusal(
        lambda: tenant.admin.ListTenants(admin_pb2.ListTenantsRequest(), timeout=5)
    )
    assert refused.details() == (
        "ListTenants needs an API key with the admin scope; this key has the tenant scope"
    )


def test_a_key_past_its_expiry_is_unauthenticated_and_says_it_expired(
    shared_agent: AgentProcess,
) -> None:
    key, stubs = _key(shared_agent, admin_pb2.KEY_SCOPE_READ, expires_at=time.time() + 2)
    assert key.HasField("expires_at")

    def refused() -> bool:
        try:
            stubs.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
            assert (exc.details() or "").startswith("this API key expired on ")
            return True
        return False

    wait_until(refused, 30, "the key to expire")


def test_an_expiry_in_the_past_and_an_unknown_scope_are_invalid(
    shared_agent: AgentProcess,
) -> None:
    past = _refusal(lambda: _key(shared_agent, admin_pb2.KEY_SCOPE_READ, time.time() - 60))
    unknown = _refusal(lambda: _key(shared_agent, admin_pb2.KeyScope.ValueType(99)))
    assert past.code() == unknown.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (past.details() or "").startswith("expires_at:")
    assert (unknown.details() or "").startswith("scope:")
