"""API keys: missing, wrong, revoked, admin-only calls, stored hashed."""

from __future__ import annotations

import grpc
import pytest

from mailfleet.agent import client
from mailfleet.v1 import admin_pb2, agent_pb2, campaigns_pb2
from tests.peers.agent import AgentProcess, Stubs


def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        assert callable(call)
        call()
    return err.value.code()


@pytest.mark.parametrize(
    "bad_key",
    ["", "not-a-key", "mfk_nosuchkey_secret", "mfk_x"],
)
def test_calls_without_a_valid_key_are_unauthenticated(
    shared_agent: AgentProcess, bad_key: str
) -> None:
    p = shared_agent.pairing
    cert = client.fetch_pinned_certificate(p)
    creds = grpc.ssl_channel_credentials(root_certificates=cert)
    if bad_key:
        creds = grpc.composite_channel_credentials(
            creds, grpc.access_token_call_credentials(bad_key)
        )
    with grpc.secure_channel(
        p.target, creds, options=[("grpc.ssl_target_name_override", "mailfleet-agent")]
    ) as ch:
        stubs = Stubs.on(ch)
        with pytest.raises(grpc.RpcError) as err:
            stubs.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_right_key_id_with_a_wrong_secret_is_refused(shared_agent: AgentProcess) -> None:
    key_id = shared_agent.pairing.api_key.split("_")[1]
    stubs = shared_agent.stubs(f"mfk_{key_id}_wrongsecret")
    assert _code(lambda: stubs.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_keys_are_created_listed_and_revoked(agent_process: AgentProcess, admin: Stubs) -> None:
    tenant = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="acme"), timeout=5)
    made = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name="automation"), timeout=5
    )
    user = agent_process.stubs(made.secret)
    assert user.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5).tenant_name == "acme"

    listed = admin.admin.ListApiKeys(admin_pb2.ListApiKeysRequest(tenant_id=tenant.id), timeout=5)
    assert [k.key_id for k in listed.keys] == [made.key.key_id]
    assert made.secret not in str(listed)

    revoked = admin.admin.RevokeApiKey(
        admin_pb2.RevokeApiKeyRequest(key_id=made.key.key_id), timeout=5
    )
    assert revoked.HasField("revoked_at")
    assert _code(lambda: user.info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


def test_only_admin_keys_may_use_the_admin_service(
    agent_process: AgentProcess, admin: Stubs
) -> None:
    tenant = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="plain"), timeout=5)
    made = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name="k"), timeout=5
    )
    user = agent_process.stubs(made.secret)
    assert _code(lambda: user.admin.ListTenants(admin_pb2.ListTenantsRequest(), timeout=5)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    # the same key works for its own tenant's campaigns
    user.campaigns.ListCampaigns(campaigns_pb2.ListCampaignsRequest(), timeout=5)


def test_admin_calls_check_their_fields(admin: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as err:
        admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="Bad Name!"), timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("name:")
    admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="twice"), timeout=5)
    with pytest.raises(grpc.RpcError) as err:
        admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="twice"), timeout=5)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as err:
        admin.admin.CreateApiKey(admin_pb2.CreateApiKeyRequest(tenant_id=999, name="k"), timeout=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_key_cannot_revoke_itself(agent_process: AgentProcess, admin: Stubs) -> None:
    own_id = agent_process.pairing.api_key.split("_")[1]
    with pytest.raises(grpc.RpcError) as err:
        admin.admin.RevokeApiKey(admin_pb2.RevokeApiKeyRequest(key_id=own_id), timeout=5)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_the_store_holds_key_hashes_not_keys(agent_process: AgentProcess, admin: Stubs) -> None:
    made = admin.admin.CreateApiKey(admin_pb2.CreateApiKeyRequest(tenant_id=1, name="k"), timeout=5)
    agent_process.terminate()
    secrets = [made.secret.split("_", 2)[2], agent_process.pairing.api_key.split("_", 2)[2]]
    for path in agent_process.data_dir.glob("agent.db*"):
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a key's secret is in {path.name}"
