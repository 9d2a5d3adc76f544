"""The Webhooks gRPC service: SSRF refusals, the secret shown once, tenants apart, test posts."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from mailfleet.v1 import admin_pb2, webhooks_pb2
from tests.agent.eventhooks.hooks import LOOPBACK_HOOKS, webhook
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.webhooks import WebhookReceiver


def _refusal(stubs: Stubs, url: str) -> str:
    with pytest.raises(grpc.RpcError) as err:
        stubs.webhooks.CreateWebhook(webhooks_pb2.CreateWebhookRequest(url=url), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return str(err.value.details())


def test_an_agent_without_the_setting_refuses_internal_addresses(admin: Stubs) -> None:
    with WebhookReceiver() as receiver:
        port = receiver.port
        assert _refusal(admin, f"http://127.0.0.1:{port}/hooks") == (
            "url: the URL must start with https:// (http is not allowed on this agent)"
        )
        assert _refusal(admin, f"https://127.0.0.1:{port}/hooks") == (
            "url: 127.0.0.1 is a loopback address, which webhooks may not reach"
        )
        assert _refusal(admin, f"https://localhost:{port}/hooks").startswith(
            "url: localhost resolves to "
        )
        assert receiver.received == []
    assert "a private address" in _refusal(admin, "https://10.20.30.40/hooks")
    assert "a cloud metadata address" in _refusal(admin, "https://169.254.169.254/latest/")
    assert "a cloud metadata address" in _refusal(admin, "https://[fd00:ec2::254]/latest/")
    assert "a shared (CGNAT) address" in _refusal(admin, "https://100.100.1.1/hooks")
    listed = admin.webhooks.ListWebhooks(webhooks_pb2.ListWebhooksRequest(), timeout=10)
    assert list(listed.webhooks) == []


def _tenant_stubs(agent: AgentProcess, admin: Stubs, name: str) -> Stubs:
    tenant = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name=name), timeout=5)
    key = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name=f"{name} key"), timeout=5
    )
    return agent.stubs(key.secret)


def test_manage_an_endpoint_of_ones_own_tenant(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    agent = agent_factory(LOOPBACK_HOOKS)
    admin = agent.stubs()
    other = _tenant_stubs(agent, admin, "other")
    with WebhookReceiver() as receiver:
        created = admin.webhooks.CreateWebhook(
            webhooks_pb2.CreateWebhookRequest(url=receiver.url(), description="crm"), timeout=10
        )
        receiver.secret = created.secret
        listed = admin.webhooks.ListWebhooks(webhooks_pb2.ListWebhooksRequest(), timeout=10)
        assert [w.url for w in listed.webhooks] == [receiver.url()]
        assert "whsec_" not in str(listed)  # the secret is shown only at creation
        assert (agent.data_dir / "agent.db").stat().st_mode & 0o077 == 0

        tested = admin.webhooks.TestWebhook(
            webhooks_pb2.TestWebhookRequest(id=created.webhook.id), timeout=30
        )
        assert tested.ok and not tested.error
        (post,) = receiver.received
        assert post.verified and post.json()["type"] == "test"

        receiver.failing = True
        tested = admin.webhooks.TestWebhook(
            webhooks_pb2.TestWebhookRequest(id=created.webhook.id), timeout=30
        )
        assert not tested.ok and tested.error == "it answered HTTP 503: busy, try later"
        assert webhook(admin, created.webhook.id).last_error == ""  # a test changes nothing

    # Another tenant neither sees nor changes it.
    listed = other.webhooks.ListWebhooks(webhooks_pb2.ListWebhooksRequest(), timeout=10)
    assert list(listed.webhooks) == []
    for call in (
        lambda: other.webhooks.DeleteWebhook(
            webhooks_pb2.DeleteWebhookRequest(id=created.webhook.id), timeout=10
        ),
        lambda: other.webhooks.UpdateWebhook(
            webhooks_pb2.UpdateWebhookRequest(id=created.webhook.id, enabled=False), timeout=10
        ),
    ):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

    # A new URL is checked as at creation.
    with pytest.raises(grpc.RpcError) as err:
        admin.webhooks.UpdateWebhook(
            webhooks_pb2.UpdateWebhookRequest(
                id=created.webhook.id, url="http://169.254.169.254/latest/"
            ),
            timeout=10,
        )
    assert err.value.details() == (
        "url: 169.254.169.254 is a cloud metadata address, which webhooks may not reach"
    )
    changed = admin.webhooks.UpdateWebhook(
        webhooks_pb2.UpdateWebhookRequest(id=created.webhook.id, description="billing"),
        timeout=10,
    )
    assert changed.webhook.description == "billing" and changed.webhook.url == created.webhook.url
    admin.webhooks.DeleteWebhook(
        webhooks_pb2.DeleteWebhookRequest(id=created.webhook.id), timeout=10
    )
    listed = admin.webhooks.ListWebhooks(webhooks_pb2.ListWebhooksRequest(), timeout=10)
    assert list(listed.webhooks) == []
