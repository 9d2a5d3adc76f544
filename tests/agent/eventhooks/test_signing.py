"""Signatures in the Standard Webhooks shape, checked with the stock verifier library."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from mailfleet.agent.eventhooks import signing

BODY = b'{"type":"events","events":[]}'


def test_the_stock_verifier_accepts_a_signed_post() -> None:
    secret = signing.new_secret()
    headers = signing.headers(secret, "msg_a_1_0_9", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == {"type": "events", "events": []}
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


def test_a_changed_body_or_another_secret_fails() -> None:
    secret = signing.new_secret()
    headers = signing.headers(secret, "msg_a_1_0_9", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"[]", b"[1]"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)


def test_a_replayed_post_is_refused_outside_the_window() -> None:
    """The timestamp is signed, so an old POST cannot be replayed with a fresh one."""
    secret = signing.new_secret()
    old = signing.headers(secret, "msg_a_1_0_9", int(time.time()) - 600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, old)
    old["webhook-timestamp"] = str(int(time.time()))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(BODY, old)
