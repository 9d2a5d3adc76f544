"""What an audit entry says of a call: names and ids, never secrets, addresses or URLs."""

from __future__ import annotations

from mailfleet.agent.api.audit import peer_host, summarise
from mailfleet.v1 import admin_pb2, campaigns_pb2, smtp_users_pb2, webhooks_pb2


def test_a_new_key_is_named_by_its_label_scope_and_id_never_its_secret() -> None:
    request = admin_pb2.CreateApiKeyRequest(
        tenant_id=2, name="shop app", scope=admin_pb2.KEY_SCOPE_SEND
    )
    response = admin_pb2.CreateApiKeyResponse(
        key=admin_pb2.ApiKey(key_id="abc123", tenant_id=2, name="shop app"),
        secret="mfk_abc123_TOPSECRET",
    )
    text = summarise(request, response)
    assert text == "tenant_id=2, name='shop app', scope=KEY_SCOPE_SEND, -> key.key_id='abc123'"
    assert "TOPSECRET" not in text


def test_passwords_urls_and_addresses_stay_out() -> None:
    hook = webhooks_pb2.CreateWebhookRequest(url="https://h.example/x?token=SECRET")
    assert "SECRET" not in summarise(hook, None)
    user = smtp_users_pb2.CreateSmtpUserRequest(username="app", password="hunter2")
    assert summarise(user, None) == "username='app'"


def test_a_stream_is_summed_up_by_its_first_batch_and_count() -> None:
    batch = campaigns_pb2.RecipientBatch(campaign_id=7)
    batch.recipients.add(email="someone@example.com")
    text = summarise(batch, None, batches=3)
    assert text == "campaign_id=7, recipients: 1, batches: 3"


def test_peers_are_shown_as_addresses() -> None:
    assert peer_host("ipv4:192.0.2.1:50000") == "192.0.2.1"
    assert peer_host("ipv6:[::1]:50000") == "::1"
    assert peer_host("unix:/run/x") == "unix:/run/x"
