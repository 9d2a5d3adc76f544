"""ESP routes against local stand-ins of SendGrid, Mailgun, SES v2 and Postmark: the exact
requests sent, and the outcome of each documented reply (2xx, 400, 401, 429, 500)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from mailfleet.agent.routes.base import Envelope, OutcomeKind
from mailfleet.agent.routes.esp.base import EspRoute
from mailfleet.agent.routes.esp.http import retry_after
from mailfleet.agent.routes.esp.mailgun import Mailgun
from mailfleet.agent.routes.esp.postmark import Postmark
from mailfleet.agent.routes.esp.sendgrid import SendGrid
from mailfleet.agent.routes.esp.ses import Ses
from mailfleet.agent.routes.settings import MailgunRoute, PostmarkRoute, SendGridRoute, SesRoute
from tests.peers.esp import Provider, ProviderStandIn, Scripted

KEY = "test-key-0123456789"


def message(n: int, rcpt: str = "") -> Envelope:
    """A DKIM-signed-looking multipart/alternative message with an attachment."""
    rcpt = rcpt or f"user{n}@example.com"
    m = EmailMessage()
    m["DKIM-Signature"] = "v=1; a=rsa-sha256; d=shop.example; s=s1; b=abc"
    m["From"] = "Shop <news@shop.example>"
    m["To"] = rcpt
    m["Subject"] = f"Hello {n}"
    m["Message-ID"] = f"<{n}@shop.example>"
    m["Reply-To"] = "help@shop.example"
    m["List-Unsubscribe"] = f"<https://shop.example/u/{n}>"
    m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    m.set_content(f"Hi {n}")
    m.add_alternative(f"<p>Hi {n}</p>", subtype="html")
    m.add_attachment(
        b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    data = m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return Envelope(n, "bounce@shop.example", rcpt, data)


def build(provider: Provider, url: str, **extra: Any) -> EspRoute[Any]:
    common: dict[str, Any] = {
        "api_key_file": "unused",
        "base_url": url,
        "retries": 1,
        "retry_backoff_seconds": 0.01,
        **extra,
    }
    if provider == "sendgrid":
        return SendGrid("sg", SendGridRoute(**common), KEY)
    if provider == "mailgun":
        return Mailgun("mg", MailgunRoute(domain="mg.shop.example", **common), KEY)
    if provider == "ses":
        settings = SesRoute(region="eu-west-1", access_key_id="AKIDEXAMPLE", **common)
        return Ses("ses", settings, KEY)
    return Postmark("pm", PostmarkRoute(**common), KEY)


PROVIDERS: list[Provider] = ["sendgrid", "mailgun", "ses", "postmark"]


@pytest.fixture(params=PROVIDERS)
def stand_in(request: pytest.FixtureRequest) -> Iterator[ProviderStandIn]:
    with ProviderStandIn(request.param, KEY) as s:
        yield s


# ---- common behaviour ----------------------------------------------------------------------


async def test_accepted_messages_are_delivered_with_the_providers_id(
    stand_in: ProviderStandIn,
) -> None:
    route = build(stand_in.provider, stand_in.url)
    outcomes = await route.deliver([message(1), message(2)])
    await route.close()
    assert sorted(o.message_id for o in outcomes) == [1, 2]
    assert {o.kind for o in outcomes} == {OutcomeKind.DELIVERED}
    assert all(o.remote_id and o.host == "127.0.0.1" for o in outcomes)
    assert len({o.remote_id for o in outcomes}) == 2
    assert len(stand_in.accepted) == (1 if stand_in.provider == "postmark" else 2)


ERRORS: dict[Provider, tuple[dict[str, str], Any, str]] = {
    "sendgrid": (
        {},
        {"errors": [{"message": "Does not contain a valid address.", "field": "from.email"}]},
        "400 from.email: Does not contain a valid address.",
    ),
    "mailgun": (
        {},
        {"message": "from parameter is not a valid address"},
        "400 from parameter is not a valid address",
    ),
    "ses": (
        {"x-amzn-ErrorType": "MessageRejected:"},
        {"message": "Email address is not verified."},
        "400 MessageRejected: Email address is not verified.",
    ),
    "postmark": (
        {},
        {"ErrorCode": 300, "Message": "Invalid 'From' address."},
        "Postmark error 300: Invalid 'From' address.",
    ),
}


async def test_a_validation_error_fails_the_message_with_the_providers_message(
    stand_in: ProviderStandIn,
) -> None:
    headers, body, reply = ERRORS[stand_in.provider]
    status = 422 if stand_in.provider == "postmark" else 400
    stand_in.script(Scripted(status, body, headers))
    route = build(stand_in.provider, stand_in.url)
    [outcome] = await route.deliver([message(1)])
    await route.close()
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.reply == reply
    assert len(stand_in.requests) == 1  # never retried


async def test_429_defers_with_retry_after_and_pauses_the_route(stand_in: ProviderStandIn) -> None:
    stand_in.script(Scripted(429, {"message": "Too many requests"}, {"Retry-After": "120"}))
    route = build(stand_in.provider, stand_in.url)
    [first] = await route.deliver([message(1)])
    assert first.kind is OutcomeKind.DEFERRED and first.retry_after == 120
    assert first.reply.startswith("429")
    # Paused: the next messages are deferred without a request, nothing is lost.
    later = await route.deliver([message(2), message(3)])
    await route.close()
    assert {o.kind for o in later} == {OutcomeKind.DEFERRED}
    assert all(115 <= o.retry_after <= 120 for o in later)
    assert len(stand_in.requests) == 1 and stand_in.accepted == []


async def test_a_5xx_is_retried_with_backoff(stand_in: ProviderStandIn) -> None:
    stand_in.script(Scripted(500, {"message": "internal error"}))
    route = build(stand_in.provider, stand_in.url)
    [outcome] = await route.deliver([message(1)])
    await route.close()
    assert outcome.kind is OutcomeKind.DELIVERED
    first, second = stand_in.requests  # the same request again (a multipart's boundary aside)
    assert (first.form or first.body) == (second.form or second.body)


async def test_a_provider_that_keeps_failing_defers_as_an_infrastructure_failure(
    stand_in: ProviderStandIn,
) -> None:
    stand_in.script(*[Scripted(503, {"message": "unavailable"})] * 2)
    route = build(stand_in.provider, stand_in.url)
    [outcome] = await route.deliver([message(1)])
    await route.close()
    assert outcome.kind is OutcomeKind.DEFERRED and outcome.infrastructure
    assert "503" in outcome.reply and len(stand_in.requests) == 2


async def test_a_wrong_key_defers_and_never_fails_the_recipient(
    stand_in: ProviderStandIn,
) -> None:
    route = build(stand_in.provider, stand_in.url)
    stand_in.key = "another-key"  # the provider no longer knows the route's key
    [outcome] = await route.deliver([message(1)])
    await route.close()
    assert outcome.kind is OutcomeKind.DEFERRED and outcome.infrastructure
    assert outcome.reply.startswith(("401", "403"))


async def test_an_unreachable_provider_defers() -> None:
    from tests.peers.smtp import free_port

    route = build("sendgrid", f"http://127.0.0.1:{free_port()}")
    [outcome] = await route.deliver([message(1)])
    await route.close()
    assert outcome.kind is OutcomeKind.DEFERRED and outcome.infrastructure


def test_retry_after_reads_seconds_dates_and_reset_headers() -> None:
    now = 1_000_000.0
    assert retry_after({"Retry-After": "30"}, now) == 30
    assert retry_after({"Retry-After": "Thu, 01 Jan 1970 00:00:10 GMT"}, 0.0) == 10
    assert retry_after({"X-RateLimit-Reset": str(int(now) + 45)}, now) == 45
    assert retry_after({}, now) == 60
    assert retry_after({"Retry-After": "999999"}, now) == 3600


# ---- each provider's exact request -------------------------------------------------------


async def test_sendgrid_request() -> None:
    with ProviderStandIn("sendgrid", KEY) as s:
        route = build("sendgrid", s.url)
        await route.deliver([message(7)])
        await route.close()
    [r] = s.requests
    assert (r.method, r.path) == ("POST", "/v3/mail/send")
    assert r.headers["Authorization"] == f"Bearer {KEY}"
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    attachment = body.pop("attachments")
    assert body == {
        "personalizations": [
            {"to": [{"email": "user7@example.com"}], "custom_args": {"mailfleet_message_id": "7"}}
        ],
        "from": {"email": "news@shop.example", "name": "Shop"},
        "subject": "Hello 7",
        "content": [
            {"type": "text/plain", "value": "Hi 7\n"},
            {"type": "text/html", "value": "<p>Hi 7</p>\n"},
        ],
        "reply_to": {"email": "help@shop.example"},
        "headers": {
            "List-Unsubscribe": "<https://shop.example/u/7>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    assert attachment == [
        {
            "content": base64.b64encode(b"%PDF-1.4 invoice").decode(),
            "filename": "invoice.pdf",
            "type": "application/pdf",
            "disposition": "attachment",
        }
    ]


async def test_mailgun_request_carries_the_signed_mime_unchanged() -> None:
    envelope = message(8)
    with ProviderStandIn("mailgun", KEY) as s:
        route = build("mailgun", s.url)
        [outcome] = await route.deliver([envelope])
        await route.close()
    [r] = s.requests
    assert (r.method, r.path) == ("POST", "/v3/mg.shop.example/messages.mime")
    assert r.headers["Authorization"] == "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
    assert r.form == {
        "to": b"user8@example.com",
        "v:mailfleet_message_id": b"8",
        "message": envelope.data,
    }
    assert outcome.remote_id.endswith("@mg.shop.example")


async def test_ses_request_is_sigv4_signed_and_carries_the_raw_mime() -> None:
    envelope = message(9)
    with ProviderStandIn("ses", KEY) as s:
        route = build("ses", s.url, configuration_set="bulk")
        [outcome] = await route.deliver([envelope])
        await route.close()
    [r] = s.requests
    assert (r.method, r.path) == ("POST", "/v2/email/outbound-emails")
    # The stand-in recomputed the signature: a tampered body or header would have been 403.
    assert outcome.kind is OutcomeKind.DELIVERED and outcome.remote_id.startswith("0102")
    assert (
        r.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-west-1/ses/aws4_request" in r.headers["Authorization"]
    )
    body = r.json()
    assert base64.b64decode(body.pop("Content")["Raw"]["Data"]) == envelope.data
    assert body == {
        "Destination": {"ToAddresses": ["user9@example.com"]},
        "EmailTags": [{"Name": "mailfleet_message_id", "Value": "9"}],
        "ConfigurationSetName": "bulk",
    }


async def test_ses_account_errors_defer_instead_of_failing() -> None:
    with ProviderStandIn("ses", KEY) as s:
        s.script(
            Scripted(
                400,
                {"message": "Daily message quota exceeded."},
                {"x-amzn-ErrorType": "LimitExceededException:"},
            )
        )
        route = build("ses", s.url)
        [outcome] = await route.deliver([message(1)])
        await route.close()
    assert outcome.kind is OutcomeKind.DEFERRED and outcome.infrastructure
    assert outcome.reply == "400 LimitExceededException: Daily message quota exceeded."


async def test_postmark_batches_and_maps_each_messages_result() -> None:
    batch = [message(1), message(2, "inactive@example.com"), message(3)]
    with ProviderStandIn("postmark", KEY) as s:
        route = build("postmark", s.url, message_stream="broadcast")
        outcomes = {o.message_id: o for o in await route.deliver(batch)}
        await route.close()
    [r] = s.requests
    assert (r.method, r.path) == ("POST", "/email/batch")
    assert r.headers["X-Postmark-Server-Token"] == KEY
    assert r.headers["Accept"] == "application/json"
    sent = r.json()
    assert [m["To"] for m in sent] == [
        "user1@example.com",
        "inactive@example.com",
        "user3@example.com",
    ]
    first = dict(sent[0])
    first.pop("Attachments")
    assert first == {
        "From": "Shop <news@shop.example>",
        "To": "user1@example.com",
        "Subject": "Hello 1",
        "MessageStream": "broadcast",
        "Metadata": {"mailfleet_message_id": "1"},
        "TextBody": "Hi 1\n",
        "HtmlBody": "<p>Hi 1</p>\n",
        "ReplyTo": "help@shop.example",
        "Headers": [
            {"Name": "List-Unsubscribe", "Value": "<https://shop.example/u/1>"},
            {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
        ],
    }
    assert outcomes[1].kind is OutcomeKind.DELIVERED and outcomes[3].kind is OutcomeKind.DELIVERED
    assert outcomes[2].kind is OutcomeKind.BOUNCED
    assert outcomes[2].reply.startswith("Postmark error 406: You tried to send")


async def test_postmark_sends_a_single_message_to_the_email_endpoint() -> None:
    with ProviderStandIn("postmark", KEY) as s:
        route = build("postmark", s.url)
        [outcome] = await route.deliver([message(4)])
        await route.close()
    assert [r.path for r in s.requests] == ["/email"]
    assert json.loads(s.requests[0].body)["To"] == "user4@example.com"
    assert outcome.kind is OutcomeKind.DELIVERED
