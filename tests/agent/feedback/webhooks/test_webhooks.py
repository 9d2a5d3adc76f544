"""ESP webhooks on a real agent's HTTP server: each provider's documented payload, signed as
the provider signs it, becomes our event; forged, replayed or mismatched requests change
nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mailfleet.v1 import events_pb2, messages_pb2, suppression_pb2
from tests.agent.builders import run_campaign, transactional, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.esp import ProviderStandIn, Recorded

MAILGUN_SIGNING_KEY = "mailgun-signing-key-0123456789"
POSTMARK_AUTH = "hooks:pm-hook-secret"


@dataclass
class Setup:
    agent: AgentProcess
    stubs: Stubs
    sendgrid_key: ec.EllipticCurvePrivateKey
    ids: dict[str, int]  # provider -> our message id
    providers: dict[str, ProviderStandIn]  # route name -> its stand-in

    def post(self, route: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback test URL
            f"{self.agent.http_url}/webhooks/{route}",
            data=body,
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def events(self, kind: int) -> list[events_pb2.Event]:
        listed = self.stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=1000)).events
        return [
            e for e in listed if e.type == kind and e.attrs.get("source", "").endswith("webhook")
        ]

    def state(self, provider: str) -> int:
        request = messages_pb2.GetMessageRequest(message_id=self.ids[provider])
        return self.stubs.messages.GetMessage(request).state


def secret_file(directory: Path, name: str, value: str) -> None:
    path = directory / name
    path.write_text(value)
    path.chmod(0o600)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("webhooks")
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    with (
        ProviderStandIn("mailgun", "mg-key") as mg,
        ProviderStandIn("postmark", "pm-key") as pm,
        ProviderStandIn("sendgrid", "sg-key") as sg,
    ):
        config = (
            '[delivery]\nworkers = 1\n\n[routes.capture]\ntype = "capture"\n\n'
            f'[routes.mg]\ntype = "mailgun"\napi_key_file = "mg.key"\ndomain = "mg.shop.example"\n'
            f'base_url = "{mg.url}"\nwebhook_signing_key_file = "mg-hook.key"\n\n'
            f'[routes.pm]\ntype = "postmark"\napi_key_file = "pm.key"\nbase_url = "{pm.url}"\n'
            'webhook_credentials_file = "pm-hook.auth"\n\n'
            f'[routes.sg]\ntype = "sendgrid"\napi_key_file = "sg.key"\nbase_url = "{sg.url}"\n'
            f'webhook_public_key = "{public}"\n\n'
            + "".join(
                f'[[routing.rules]]\nrecipient_domains = ["{r}.test"]\nroute = "{r}"\n\n'
                for r in ("mg", "pm", "sg")
            )
        )
        agent = AgentProcess(tmp / "agent", extra_config=config)
        for name, value in (
            ("mg.key", "mg-key"),
            ("pm.key", "pm-key"),
            ("sg.key", "sg-key"),
            ("mg-hook.key", MAILGUN_SIGNING_KEY),
            ("pm-hook.auth", POSTMARK_AUTH),
        ):
            secret_file(agent.data_dir, name, value)
        agent.start()
        try:
            stubs = agent.stubs()
            ids = {
                p: stubs.transactional.SendMessage(transactional(p, f"user@{p}.test")).message_id
                for p in ("mg", "pm", "sg")
            }
            setup = Setup(agent, stubs, key, ids, {"mg": mg, "pm": pm, "sg": sg})
            for p in ids:
                wait_until(
                    lambda p=p: setup.state(p) == messages_pb2.MESSAGE_STATE_DELIVERED,  # type: ignore[misc]
                    30,
                    f"delivery through {p}",
                )
            yield setup
        finally:
            agent.close()


def mailgun_payload(event: dict[str, Any], key: str = MAILGUN_SIGNING_KEY) -> bytes:
    timestamp, token = str(int(time.time())), "a8ce0edb2dd8301dccd8f39e5d5a9c9d6e8cc25d6a0a0cfd5f"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": event,
        }
    ).encode()


def test_mailgun_permanent_failure_bounces_the_message(setup: Setup) -> None:
    event = {
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "event": "failed",
        "severity": "permanent",
        "recipient": "user@mg.test",
        "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"},
        "user-variables": {"mailfleet_message_id": str(setup.ids["mg"])},
    }
    forged = mailgun_payload(event, key="not-the-key")
    assert setup.post("mg", forged, {})[0] == 401
    assert setup.state("mg") == messages_pb2.MESSAGE_STATE_DELIVERED

    body = mailgun_payload(event)
    assert setup.post("mg", body, {}) == (200, {"recorded": 1})
    assert setup.post("mg", body, {}) == (200, {"recorded": 0})  # Mailgun's retry
    assert setup.state("mg") == messages_pb2.MESSAGE_STATE_BOUNCED
    [bounce] = [
        e
        for e in setup.events(events_pb2.EVENT_TYPE_MESSAGE_BOUNCED)
        if e.message_id == setup.ids["mg"]
    ]
    assert bounce.email == "user@mg.test"
    assert bounce.attrs["source"] == "mailgun webhook" and bounce.attrs["route"] == "mg"
    assert bounce.attrs["reply"] == "550 5.1.1 The email account does not exist"
    assert bounce.attrs["event"] == "failed (permanent)"


def test_postmark_spam_complaint_needs_the_basic_auth(setup: Setup) -> None:
    payload = json.dumps(
        {
            "RecordType": "SpamComplaint",
            "ID": 42,
            "Type": "SpamComplaint",
            "MessageID": "00000000-0000-0000-0000-000000000000",
            "Email": "user@pm.test",
            "Metadata": {"mailfleet_message_id": str(setup.ids["pm"])},
            "Details": "Test spam complaint details",
        }
    ).encode()
    wrong = "Basic " + base64.b64encode(b"hooks:guess").decode()
    assert setup.post("pm", payload, {"Authorization": wrong})[0] == 401
    auth = "Basic " + base64.b64encode(POSTMARK_AUTH.encode()).decode()
    assert setup.post("pm", payload, {"Authorization": auth}) == (200, {"recorded": 1})
    [complaint] = [
        e
        for e in setup.events(events_pb2.EVENT_TYPE_MESSAGE_COMPLAINED)
        if e.message_id == setup.ids["pm"]
    ]
    assert complaint.attrs["source"] == "postmark webhook" and complaint.email == "user@pm.test"
    # A complaint does not undo the delivery.
    assert setup.state("pm") == messages_pb2.MESSAGE_STATE_DELIVERED


def sendgrid_headers(setup: Setup, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = setup.sendgrid_key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
    }


def test_sendgrid_signed_events_are_verified_and_recorded(setup: Setup) -> None:
    mid = str(setup.ids["sg"])
    body = json.dumps(
        [
            {
                "email": "user@sg.test",
                "timestamp": int(time.time()),
                "event": "delivered",
                "sg_event_id": "ZGVsaXZlcmVk",
                "sg_message_id": "14c5d75ce93.dfd.64b469",
                "response": "250 OK",
                "mailfleet_message_id": mid,
            },
            {
                "email": "user@sg.test",
                "timestamp": int(time.time()),
                "event": "open",
                "sg_event_id": "b3Blbg",
                "mailfleet_message_id": mid,
            },
            # Names our message but another recipient: not ours to record.
            {
                "email": "someone@else.test",
                "timestamp": int(time.time()),
                "event": "bounce",
                "type": "bounce",
                "sg_event_id": "Ym91bmNl",
                "reason": "550 no such user",
                "mailfleet_message_id": mid,
            },
        ]
    ).encode()
    assert setup.post("sg", body, {**sendgrid_headers(setup, body), "X-Extra": "1"})[0] == 200
    tampered = body.replace(b"delivered", b"bounce")
    assert setup.post("sg", tampered, sendgrid_headers(setup, body))[0] == 401
    stale = sendgrid_headers(setup, body, timestamp=int(time.time()) - 3600)
    assert setup.post("sg", body, stale)[0] == 401
    delivered = [
        e
        for e in setup.events(events_pb2.EVENT_TYPE_MESSAGE_DELIVERED)
        if e.message_id == setup.ids["sg"]
    ]
    assert [(e.attrs["source"], e.attrs["reply"]) for e in delivered] == [
        ("sendgrid webhook", "250 OK")
    ]
    assert setup.state("sg") == messages_pb2.MESSAGE_STATE_DELIVERED  # the bounce was not ours
    assert not [
        e
        for e in setup.events(events_pb2.EVENT_TYPE_MESSAGE_BOUNCED)
        if e.message_id == setup.ids["sg"]
    ]


def test_unknown_routes_and_garbage_are_refused(setup: Setup) -> None:
    assert setup.post("capture", b"[]", {})[0] == 404
    assert setup.post("nope", b"[]", {})[0] == 404
    auth = "Basic " + base64.b64encode(POSTMARK_AUTH.encode()).decode()
    assert setup.post("pm", b"not json", {"Authorization": auth})[0] == 400


def _send(setup: Setup, emails: list[str]) -> dict[str, int]:
    """Send a transactional message to each address; wait until every one is delivered."""
    ids = {
        e: setup.stubs.transactional.SendMessage(transactional(f"fb-{e}", e)).message_id
        for e in emails
    }

    def delivered() -> bool:
        return all(
            setup.stubs.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=i)).state
            == messages_pb2.MESSAGE_STATE_DELIVERED
            for i in ids.values()
        )

    wait_until(delivered, 30, "the messages to be delivered")
    return ids


def _carried(request: Recorded, email: str) -> bool:
    return email.encode() in request.body or any(email.encode() in v for v in request.form.values())


def test_bounces_complaints_and_unsubscribes_suppress_so_a_later_campaign_sends_nothing_to_them(
    setup: Setup,
) -> None:
    hard = ["hard@mg.test", "hard@pm.test", "hard@sg.test"]
    spam = ["spam@mg.test", "spam@pm.test", "spam@sg.test"]
    ok = ["ok@mg.test", "ok@pm.test", "ok@sg.test"]
    soft, blocked, unsubscribed = "soft@pm.test", "blocked@sg.test", "unsub@sg.test"
    ids = _send(setup, [*hard, *spam, soft, blocked, unsubscribed])
    now = int(time.time())

    def sendgrid(event: dict[str, Any]) -> None:
        body = json.dumps([event]).encode()
        assert setup.post("sg", body, sendgrid_headers(setup, body)) == (200, {"recorded": 1})

    def mailgun(event: dict[str, Any]) -> None:
        assert setup.post("mg", mailgun_payload(event), {}) == (200, {"recorded": 1})

    def postmark(payload: dict[str, Any]) -> None:
        auth = "Basic " + base64.b64encode(POSTMARK_AUTH.encode()).decode()
        body = json.dumps(payload).encode()
        assert setup.post("pm", body, {"Authorization": auth}) == (200, {"recorded": 1})

    # SendGrid's Event Webhook: a bounce, a spam report, a temporary block it gave up on and
    # an unsubscribe from a suppression group (custom_args arrive as top-level fields).
    for email, event in (
        (
            "hard@sg.test",
            {
                "event": "bounce",
                "type": "bounce",
                "status": "5.1.1",
                "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            },
        ),
        ("spam@sg.test", {"event": "spamreport"}),
        (
            blocked,
            {"event": "bounce", "type": "blocked", "reason": "550 5.7.1 Blocked by Spamhaus"},
        ),
        ("unsub@sg.test", {"event": "group_unsubscribe", "asm_group_id": 42}),
    ):
        sendgrid(
            {
                "email": email,
                "timestamp": now,
                "sg_event_id": f"sg-{email}",
                "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
                "mailfleet_message_id": str(ids[email]),
                **event,
            }
        )
    # Mailgun's webhooks: a permanent failure and a complaint.
    mailgun(
        {
            "id": "mg-hard",
            "event": "failed",
            "severity": "permanent",
            "reason": "bounce",
            "recipient": "hard@mg.test",
            "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"},
            "user-variables": {"mailfleet_message_id": str(ids["hard@mg.test"])},
        }
    )
    mailgun(
        {
            "id": "mg-spam",
            "event": "complained",
            "recipient": "spam@mg.test",
            "user-variables": {"mailfleet_message_id": str(ids["spam@mg.test"])},
        }
    )
    # Postmark's bounce webhook (a hard and a soft bounce) and spam complaint webhook.
    for email, record_type, kind, details in (
        ("hard@pm.test", "Bounce", "HardBounce", "smtp;550 5.1.1 user unknown"),
        (soft, "Bounce", "SoftBounce", "smtp;452 4.2.2 mailbox full"),
        ("spam@pm.test", "SpamComplaint", "SpamComplaint", ""),
    ):
        postmark(
            {
                "RecordType": record_type,
                "ID": 4000 + ids[email],
                "Type": kind,
                "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
                "Email": email,
                "Details": details,
                "Metadata": {"mailfleet_message_id": str(ids[email])},
            }
        )

    checked = setup.stubs.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[*hard, *spam, soft, blocked, *ok])
    )
    reasons = {
        s.email: [(e.reason, e.source) for e in s.entries] for s in checked.statuses if s.suppressed
    }
    assert reasons == {
        **{
            e: [(suppression_pb2.SUPPRESSION_REASON_HARD_BOUNCE, f"{p} webhook: user_unknown")]
            for e, p in zip(hard, ("mailgun", "postmark", "sendgrid"), strict=True)
        },
        **{
            e: [(suppression_pb2.SUPPRESSION_REASON_COMPLAINT, f"{p} webhook")]
            for e, p in zip(spam, ("mailgun", "postmark", "sendgrid"), strict=True)
        },
    }
    # A soft bounce and a block end their messages but keep the addresses (the soft bounce
    # scores: one of five); the unsubscribe suppresses bulk mail only.
    for email, verdict in ((soft, "soft"), (blocked, "soft"), ("hard@pm.test", "hard")):
        [bounce] = [
            e
            for e in setup.events(events_pb2.EVENT_TYPE_MESSAGE_BOUNCED)
            if e.message_id == ids[email]
        ]
        assert bounce.attrs["bounce"] == verdict
        request = messages_pb2.GetMessageRequest(message_id=ids[email])
        assert setup.stubs.messages.GetMessage(request).state == messages_pb2.MESSAGE_STATE_BOUNCED
    [unsubscribe] = setup.events(events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED)
    assert (unsubscribe.email, unsubscribe.attrs["event"]) == (unsubscribed, "group_unsubscribe")
    [entry] = (
        setup.stubs.suppression.CheckSuppressions(
            suppression_pb2.CheckSuppressionsRequest(emails=[unsubscribed])
        )
        .statuses[0]
        .entries
    )
    assert entry.reason == suppression_pb2.SUPPRESSION_REASON_UNSUBSCRIBE

    already = {name: len(p.accepted) for name, p in setup.providers.items()}
    campaign = run_campaign(setup.stubs, "after-webhooks", [*hard, *spam, unsubscribed, *ok])
    assert (campaign.counts.suppressed, campaign.counts.delivered) == (7, 3)
    for name, provider in setup.providers.items():
        new = provider.accepted[already[name] :]
        assert [r for r in new if _carried(r, f"ok@{name}.test")] == new and len(new) == 1
    listed = setup.stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=1000)).events
    assert sorted(
        e.email
        for e in listed
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_SUPPRESSED and e.campaign_id == campaign.id
    ) == sorted([*hard, *spam, unsubscribed])
