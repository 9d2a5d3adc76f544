"""Amazon SES events through SNS on a real agent: the subscription is confirmed, notifications
are checked with SNS's signing certificate (fetched over verified HTTPS from the allowed place)
and a permanent bounce bounces our message."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mailfleet.agent.feedback.webhooks.ses import sns_string_to_sign
from mailfleet.v1 import events_pb2, messages_pb2, suppression_pb2
from tests.agent.builders import run_campaign, transactional, wait_until
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.esp import ProviderStandIn
from tests.peers.https import FileServer
from tests.peers.pki import LocalCa, self_signed

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
CERT_HOST = "127.0.0.5"


def signing_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "sns.amazonaws.com")
    return key, cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Setup:
    agent: AgentProcess
    stubs: Stubs
    key: rsa.RSAPrivateKey
    cert_server: FileServer
    message_id: int
    provider: ProviderStandIn

    @property
    def prefix(self) -> str:
        return f"https://{CERT_HOST}:{self.cert_server.port}/"

    def sns(self, kind: str, message: str, **extra: str) -> dict[str, str]:
        data = {
            "Type": kind,
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": TOPIC,
            "Message": message,
            "Timestamp": "2026-11-28T17:00:00.000Z",
            "SignatureVersion": "2",
            "SigningCertURL": self.prefix + "SimpleNotificationService-abc.pem",
            **extra,
        }
        signature = self.key.sign(sns_string_to_sign(data), padding.PKCS1v15(), hashes.SHA256())
        data["Signature"] = base64.b64encode(signature).decode()
        return data

    def post(self, data: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback test URL
            f"{self.agent.http_url}/webhooks/ses",
            data=json.dumps(data).encode(),
            headers={"Content-Type": "text/plain; charset=UTF-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def state(self) -> int:
        request = messages_pb2.GetMessageRequest(message_id=self.message_id)
        return self.stubs.messages.GetMessage(request).state


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("ses")
    ca = LocalCa.create(tmp)
    key, pem = signing_certificate()
    cert_server = FileServer(CERT_HOST, ca.issue(CERT_HOST)).start()
    cert_server.files["/SimpleNotificationService-abc.pem"] = ("application/x-pem-file", pem)
    cert_server.files["/confirm"] = ("text/xml", b"<ConfirmSubscriptionResponse/>")
    with ProviderStandIn("ses", "ses-secret") as ses:
        config = (
            '[delivery]\nworkers = 1\n\n[routes.capture]\ntype = "capture"\n\n'
            f'[routes.ses]\ntype = "ses"\nregion = "eu-west-1"\naccess_key_id = "AKIDEXAMPLE"\n'
            f'api_key_file = "ses.key"\nbase_url = "{ses.url}"\nwebhook_topic_arn = "{TOPIC}"\n'
            f'webhook_cert_url_prefix = "https://{CERT_HOST}:{cert_server.port}/"\n'
            f'webhook_ca_file = "{ca.cert_file}"\n\n'
            '[feedback]\nsoft_bounce_limit = 2\n\n[[routing.rules]]\nroute = "ses"\n'
        )
        agent = AgentProcess(tmp / "agent", extra_config=config)
        secret = agent.data_dir / "ses.key"
        secret.write_text("ses-secret")
        secret.chmod(0o600)
        try:
            agent.start()
            stubs = agent.stubs()
            sent = stubs.transactional.SendMessage(transactional("s1", "user@ses.test"))
            setup = Setup(agent, stubs, key, cert_server, sent.message_id, ses)
            wait_until(
                lambda: setup.state() == messages_pb2.MESSAGE_STATE_DELIVERED, 30, "delivery"
            )
            yield setup
        finally:
            agent.close()
            cert_server.stop()


def test_the_subscription_is_confirmed(setup: Setup) -> None:
    data = setup.sns(
        "SubscriptionConfirmation",
        "You have chosen to subscribe to the topic.",
        SubscribeURL=setup.prefix + "confirm?Action=ConfirmSubscription&Token=2336412f37",
        Token="2336412f37",
    )
    assert setup.post(data) == (200, {"recorded": 0})
    assert f"{CERT_HOST}:{setup.cert_server.port}/confirm" in setup.cert_server.requests


def bounce_record(
    message_id: int,
    recipient: str = "user@ses.test",
    kind: tuple[str, str] = ("Permanent", "General"),
    diagnostic: tuple[str, str] = ("5.1.1", "smtp; 550 5.1.1 user unknown"),
) -> str:
    return json.dumps(
        {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": kind[0],
                "bounceSubType": kind[1],
                "feedbackId": f"0102017f-bounce-{message_id:06d}",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": diagnostic[0],
                        "diagnosticCode": diagnostic[1],
                    }
                ],
            },
            "mail": {
                "messageId": "0102017f-mail-000000",
                "destination": [recipient],
                "tags": {"mailfleet_message_id": [str(message_id)]},
            },
        }
    )


def test_forged_notifications_change_nothing(setup: Setup) -> None:
    good = setup.sns("Notification", bounce_record(setup.message_id))
    tampered = dict(good, Message=bounce_record(setup.message_id).replace("General", "x"))
    assert setup.post(tampered)[0] == 401
    elsewhere = setup.sns(
        "Notification",
        bounce_record(setup.message_id),
        SigningCertURL="https://attacker.example/cert.pem",
    )
    assert setup.post(elsewhere)[0] == 401
    other_topic = setup.sns(
        "Notification", bounce_record(setup.message_id), TopicArn=TOPIC + "-other"
    )
    assert setup.post(other_topic)[0] == 401
    assert setup.state() == messages_pb2.MESSAGE_STATE_DELIVERED


def test_a_permanent_bounce_bounces_the_message(setup: Setup) -> None:
    data = setup.sns("Notification", bounce_record(setup.message_id))
    assert setup.post(data) == (200, {"recorded": 1})
    assert setup.post(data) == (200, {"recorded": 0})  # SNS redelivers
    assert setup.state() == messages_pb2.MESSAGE_STATE_BOUNCED
    events = setup.stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=100)).events
    [bounce] = [
        e
        for e in events
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_BOUNCED and e.message_id == setup.message_id
    ]
    assert bounce.attrs["source"] == "ses webhook"
    assert bounce.attrs["reply"] == "smtp; 550 5.1.1 user unknown"
    assert bounce.attrs["event"] == "Bounce (Permanent/General)"


def test_cert_urls_outside_the_prefix_are_refused_even_with_a_valid_signature(
    setup: Setup,
) -> None:
    data = setup.sns(
        "Notification",
        bounce_record(setup.message_id),
        SigningCertURL=f"http://{CERT_HOST}:{setup.cert_server.port}/SimpleNotificationService-abc.pem",
    )
    assert setup.post(data)[0] == 401


def complaint_record(message_id: int, recipient: str) -> str:
    return json.dumps(
        {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": recipient}],
                "timestamp": "2026-11-28T17:05:00.000Z",
                "feedbackId": f"0102017f-complaint-{message_id:06d}",
                "userAgent": "ExampleCorp Feedback Loop (V0.01)",
                "complaintFeedbackType": "abuse",
            },
            "mail": {
                "messageId": f"0102017f-mail-{message_id:06d}",
                "destination": [recipient],
                "tags": {"mailfleet_message_id": [str(message_id)]},
            },
        }
    )


def test_bounces_and_complaints_suppress_so_a_later_campaign_sends_nothing_to_them(
    setup: Setup,
) -> None:
    hard, spam, full, ok = "gone@ses.test", "spam@ses.test", "full@ses.test", "ok@ses.test"
    ids: list[tuple[str, int]] = []
    for key, email in (("h", hard), ("s", spam), ("f1", full), ("f2", full)):
        sent = setup.stubs.transactional.SendMessage(transactional(f"sup-{key}", email))
        ids.append((email, sent.message_id))

    def delivered() -> bool:
        return all(
            setup.stubs.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=i)).state
            == messages_pb2.MESSAGE_STATE_DELIVERED
            for _, i in ids
        )

    wait_until(delivered, 30, "the messages to be delivered")
    (_, hard_id), (_, spam_id), (_, full1), (_, full2) = ids
    assert setup.post(setup.sns("Notification", bounce_record(hard_id, hard))) == (
        200,
        {"recorded": 1},
    )
    assert setup.post(setup.sns("Notification", complaint_record(spam_id, spam))) == (
        200,
        {"recorded": 1},
    )

    def suppressed() -> dict[str, list[int]]:
        checked = setup.stubs.suppression.CheckSuppressions(
            suppression_pb2.CheckSuppressionsRequest(emails=[hard, spam, full, ok])
        )
        return {s.email: [e.reason for e in s.entries] for s in checked.statuses if s.suppressed}

    assert suppressed() == {
        hard: [suppression_pb2.SUPPRESSION_REASON_HARD_BOUNCE],
        spam: [suppression_pb2.SUPPRESSION_REASON_COMPLAINT],
    }
    # SES gave up on a full mailbox twice: soft bounces, the second reaches the limit (2).
    mailbox_full = ("Transient", "MailboxFull")
    full_reply = ("4.2.2", "smtp; 452 4.2.2 mailbox full")
    data = setup.sns("Notification", bounce_record(full1, full, mailbox_full, full_reply))
    assert setup.post(data) == (200, {"recorded": 1})
    assert full not in suppressed()
    data = setup.sns("Notification", bounce_record(full2, full, mailbox_full, full_reply))
    assert setup.post(data) == (200, {"recorded": 1})
    assert suppressed()[full] == [suppression_pb2.SUPPRESSION_REASON_HARD_BOUNCE]

    already = len(setup.provider.accepted)
    campaign = run_campaign(setup.stubs, "after-ses-webhooks", [hard, spam, full, ok])
    assert (campaign.counts.suppressed, campaign.counts.delivered) == (3, 1)
    [request] = setup.provider.accepted[already:]
    assert request.json()["Destination"]["ToAddresses"] == [ok]
    events = setup.stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=1000)).events
    assert sorted(
        e.email
        for e in events
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_SUPPRESSED and e.campaign_id == campaign.id
    ) == sorted([hard, spam, full])
