"""ESP event webhooks: verify each provider's request, turn its events into ours.

``POST /webhooks/<route name>`` on the agent's HTTP server takes the events of the ESP route of
that name: SendGrid's Signed Event Webhook (ECDSA over timestamp + body), Mailgun's webhooks
(HMAC-SHA256 of timestamp + token with the signing key), Amazon SES's through SNS (RSA
signatures checked with SNS's signing certificate; subscriptions confirmed) and Postmark's
(basic auth, as Postmark signs nothing). Each event names our message by the
``mailfleet_message_id`` metadata the route sent with it, and is recorded only if that message
went to the event's recipient.

Each event has the effect the same feedback has when it reaches the agent directly (see
:mod:`agent.feedback.record`): a hard bounce bounces the message and suppresses the address; a
soft bounce (the provider gave up, but the address may be fine) bounces the message and counts
towards the address's soft-bounce score; a complaint suppresses at once; an unsubscribe (also
SendGrid's group unsubscribe, which names a SendGrid group our tags know nothing of) suppresses
the address for bulk mail. Deferrals (the provider is still retrying) and the provider's final
delivery are only logged. ``attrs.source`` of each event names the provider.

Whether a bounce is hard is the provider's word checked against our own classifier: a
permanent failure whose diagnostic says the message or the sender was refused (a spam or
policy block, content, size) does not suppress a good address, just as a direct one would not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import sqlite3
import ssl
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from agent.config import AgentSettings
from agent.feedback import record as feedback
from agent.feedback.classify import EXPIRED, Severity, Verdict, classify
from agent.feedback.record import About
from agent.feedback.settings import FeedbackSettings
from agent.model import EventType, MessageState
from agent.routes.base import RouteConfigError
from agent.routes.config import MailgunRoute, PostmarkRoute, SendGridRoute, SesRoute
from agent.routes.esp.base import METADATA_KEY
from agent.routes.smtp_relay import read_password
from agent.store import events
from agent.web.server import STORE_KEY, Mount

log = logging.getLogger("mailfleet.agent.webhooks")

# Signed requests older (or newer) than this are refused, so a captured one cannot be replayed.
MAX_SKEW_SECONDS = 600
# Provider event ids remembered to drop the provider's retries of an event already recorded.
_SEEN_EVENTS = 100_000


class Refused(Exception):
    """The request is not the provider's (bad signature or credentials): 401."""


class Malformed(ValueError):
    """The body is not the provider's documented shape: 400."""


@dataclass(frozen=True)
class WebhookEvent:
    """One provider event about one of our messages."""

    message_id: int
    email: str
    type: EventType
    reason: str = ""
    event_id: str = ""  # the provider's id of the event, for dropping repeats
    detail: str = ""  # the provider's own event name ("bounce", "HardBounce", ...)
    verdict: Verdict | None = None  # what a bounce means for the address (bounces only)


def provider_verdict(permanent: bool, status: str, text: str) -> Verdict:
    """What a bounce the provider called permanent (or transient) means for the address.

    Our classifier reads the status code and diagnostic; the provider's word decides what
    the classifier cannot know. A permanent bounce is hard unless the diagnostic says the
    message or the sender was refused (a block says nothing about the address); a transient
    one (the provider gave up retrying) is soft and scored, even if its text sounds hard.
    """
    verdict = classify(status, text)
    if permanent:
        if verdict.hard or not verdict.scored:
            return verdict
        return Verdict(Severity.HARD, verdict.reason, scored=False)
    if verdict.hard:
        return Verdict(Severity.SOFT, verdict.reason, scored=True)
    return verdict


def _message_id(metadata: Any) -> int | None:
    value = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
    if isinstance(value, list):  # SES tags are lists
        value = value[0] if value else None
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else None


# ---- SendGrid ------------------------------------------------------------------------------

_SENDGRID = {
    "delivered": EventType.MESSAGE_DELIVERED,
    "bounce": EventType.MESSAGE_BOUNCED,
    "deferred": EventType.MESSAGE_DEFERRED,
    "dropped": EventType.MESSAGE_FAILED,
    "spamreport": EventType.MESSAGE_COMPLAINED,
    "unsubscribe": EventType.MESSAGE_UNSUBSCRIBED,
    "group_unsubscribe": EventType.MESSAGE_UNSUBSCRIBED,
}


def verify_sendgrid(public_key: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Check the Signed Event Webhook signature; raises :class:`Refused`."""
    signature = headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not signature or not timestamp.isdigit():
        raise Refused("missing signature headers")
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Refused("timestamp too far from now")
    try:
        key = load_der_public_key(base64.b64decode(public_key))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(
            base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise Refused("bad signature") from exc


def parse_sendgrid(body: bytes) -> list[WebhookEvent]:
    """Events from SendGrid's JSON array."""
    data = _json(body)
    if not isinstance(data, list):
        raise Malformed("SendGrid sends a JSON array of events")
    found = []
    for item in data:
        if not isinstance(item, dict):
            raise Malformed("an event is not an object")
        kind = _SENDGRID.get(str(item.get("event", "")))
        message_id = _message_id(item)
        if kind is None or message_id is None:
            continue
        reason = str(item.get("reason") or item.get("response") or "")
        detail = str(item.get("event"))
        if item.get("type"):
            detail += f" ({item['type']})"
        verdict = None
        if kind is EventType.MESSAGE_BOUNCED:
            # "bounce" is SendGrid's permanent failure, "blocked" its temporary one that it
            # stopped retrying.
            permanent = item.get("type", "bounce") != "blocked"
            verdict = provider_verdict(permanent, str(item.get("status", "")), reason)
        found.append(
            WebhookEvent(
                message_id,
                str(item.get("email", "")),
                kind,
                reason,
                str(item.get("sg_event_id", "")),
                detail,
                verdict,
            )
        )
    return found


# ---- Mailgun -------------------------------------------------------------------------------


def verify_mailgun(signing_key: str, data: Mapping[str, Any], now: float) -> None:
    """Check the HMAC in the payload's ``signature`` object; raises :class:`Refused`."""
    sig = data.get("signature")
    if not isinstance(sig, dict):
        raise Refused("no signature object")
    timestamp, token, signature = (str(sig.get(k, "")) for k in ("timestamp", "token", "signature"))
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Refused("timestamp missing or too far from now")
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused("bad signature")


def parse_mailgun(data: Mapping[str, Any]) -> list[WebhookEvent]:
    """The one event of a Mailgun webhook payload."""
    event = data.get("event-data")
    if not isinstance(event, dict):
        raise Malformed("no event-data object")
    name = str(event.get("event", ""))
    if name == "failed":
        permanent = event.get("severity") == "permanent"
        kind = EventType.MESSAGE_BOUNCED if permanent else EventType.MESSAGE_DEFERRED
    else:
        kind = {
            "delivered": EventType.MESSAGE_DELIVERED,
            "complained": EventType.MESSAGE_COMPLAINED,
            "unsubscribed": EventType.MESSAGE_UNSUBSCRIBED,
        }.get(name, EventType.MESSAGE_QUEUED)
    message_id = _message_id(event.get("user-variables"))
    if kind is EventType.MESSAGE_QUEUED or message_id is None:
        return []
    status = event.get("delivery-status")
    reason = ""
    if isinstance(status, dict):
        code = status.get("code")
        text = status.get("message") or status.get("description") or ""
        reason = f"{code} {text}".strip() if code else str(text)
    detail = name + (f" ({event['severity']})" if event.get("severity") else "")
    verdict = None
    if kind is EventType.MESSAGE_BOUNCED:
        verdict = _mailgun_verdict(str(event.get("reason", "")), status, reason)
    return [
        WebhookEvent(
            message_id,
            str(event.get("recipient", "")),
            kind,
            reason,
            str(event.get("id", "")),
            detail,
            verdict,
        )
    ]


def _mailgun_verdict(why: str, status: Any, reply: str) -> Verdict:
    """A permanent Mailgun failure by its ``reason``: "old" means Mailgun gave up retrying
    (the address kept deferring), "espblock" that Mailgun itself refused to send."""
    if why == "old":
        return EXPIRED
    if why == "espblock":
        return Verdict(Severity.SOFT, "policy", scored=False)
    code = ""
    if isinstance(status, dict):
        code = str(status.get("enhanced-code") or "")
    return provider_verdict(True, code, reply)


# ---- Postmark ------------------------------------------------------------------------------

_POSTMARK_BOUNCES = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
# Postmark's bounce types that end the message without saying the address is dead: a soft
# bounce (Postmark stopped retrying) scores; an ISP block or DMARC refusal does not.
_POSTMARK_SOFT = {
    "SoftBounce": True,
    "Blocked": False,
    "DMARCPolicy": False,
}


def verify_postmark(credentials: str, headers: Mapping[str, str]) -> None:
    """Check the basic auth Postmark was configured to send; raises :class:`Refused`."""
    expected = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    if not hmac.compare_digest(headers.get("Authorization", ""), expected):
        raise Refused("bad credentials")


def parse_postmark(data: Mapping[str, Any]) -> list[WebhookEvent]:
    """The one event of a Postmark webhook payload."""
    record = str(data.get("RecordType", ""))
    message_id = _message_id(data.get("Metadata"))
    if message_id is None:
        return []
    email = str(data.get("Email") or data.get("Recipient") or "")
    reason = str(data.get("Description") or data.get("Details") or "")
    event_id = str(data.get("ID", "")) if data.get("ID") is not None else ""
    if record == "Bounce":
        # A bounce's Details hold the receiving server's reply, its Description Postmark's
        # explanation of the type.
        reason = str(data.get("Details") or data.get("Description") or "")
        bounce_type = str(data.get("Type", ""))
        verdict = None
        if bounce_type == "SpamComplaint":
            kind = EventType.MESSAGE_COMPLAINED
        elif bounce_type == "Unsubscribe":  # the recipient asked by mail to be removed
            kind = EventType.MESSAGE_UNSUBSCRIBED
        elif bounce_type in _POSTMARK_BOUNCES:
            kind = EventType.MESSAGE_BOUNCED
            verdict = provider_verdict(True, "", reason)
        elif bounce_type in _POSTMARK_SOFT:
            kind = EventType.MESSAGE_BOUNCED
            verdict = provider_verdict(False, "", reason)
            if not _POSTMARK_SOFT[bounce_type]:
                verdict = Verdict(Severity.SOFT, "policy", scored=False)
        else:
            kind = EventType.MESSAGE_DEFERRED
        detail = f"Bounce ({bounce_type})"
        return [WebhookEvent(message_id, email, kind, reason, event_id, detail, verdict)]
    kinds = {
        "Delivery": EventType.MESSAGE_DELIVERED,
        "SpamComplaint": EventType.MESSAGE_COMPLAINED,
    }
    if record == "SubscriptionChange" and data.get("SuppressSending"):
        return [
            WebhookEvent(
                message_id, email, EventType.MESSAGE_UNSUBSCRIBED, reason, event_id, record
            )
        ]
    if record in kinds:
        return [WebhookEvent(message_id, email, kinds[record], reason, event_id, record)]
    return []


# ---- Amazon SES through SNS --------------------------------------------------------------

# The fields SNS signs, in order, per message type (AWS: "Verifying the signatures of Amazon
# SNS messages").
_SNS_SUBSCRIPTION_SIGNED = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_SNS_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _SNS_SUBSCRIPTION_SIGNED,
    "UnsubscribeConfirmation": _SNS_SUBSCRIPTION_SIGNED,
}


def sns_string_to_sign(data: Mapping[str, Any]) -> bytes:
    """The text SNS signed for a message; raises :class:`Malformed` for an unknown type."""
    fields = _SNS_SIGNED.get(str(data.get("Type", "")))
    if fields is None:
        raise Malformed(f"unknown SNS message type {data.get('Type')!r}")
    parts = []
    for name in fields:
        if name in data and data[name] is not None:
            parts.append(f"{name}\n{data[name]}\n")
        elif name != "Subject":
            raise Malformed(f"the SNS message has no {name}")
    return "".join(parts).encode()


def verify_sns(data: Mapping[str, Any], certificate_pem: bytes) -> None:
    """Check an SNS message's signature with its signing certificate; raises Refused."""
    version = str(data.get("SignatureVersion", ""))
    digest: hashes.HashAlgorithm
    if version == "1":
        digest = hashes.SHA1()  # noqa: S303 - SNS signature version 1 is defined with SHA1
    elif version == "2":
        digest = hashes.SHA256()
    else:
        raise Refused(f"unknown SignatureVersion {version!r}")
    try:
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(
            base64.b64decode(str(data.get("Signature", ""))),
            sns_string_to_sign(data),
            padding.PKCS1v15(),
            digest,
        )
    except (InvalidSignature, ValueError, binascii.Error, AssertionError) as exc:
        raise Refused("bad SNS signature") from exc


# SES's transient bounce subtypes that name their cause (SES sends a transient bounce once it
# stopped retrying, so each ends the message).
_SES_TRANSIENT = {
    "MailboxFull": Verdict(Severity.SOFT, "mailbox_full", scored=True),
    "MessageTooLarge": Verdict(Severity.SOFT, "message_too_large", scored=False),
    "ContentRejected": Verdict(Severity.SOFT, "content", scored=False),
    "AttachmentRejected": Verdict(Severity.SOFT, "content", scored=False),
}


def parse_ses(message: Mapping[str, Any]) -> list[WebhookEvent]:
    """Events of an SES event (configuration set) or notification (identity) record."""
    kind = str(message.get("eventType") or message.get("notificationType") or "")
    mail = message.get("mail")
    if not isinstance(mail, dict):
        raise Malformed("the SES record has no mail object")
    message_id = _message_id(mail.get("tags"))
    if message_id is None:
        return []
    found: list[WebhookEvent] = []
    if kind == "Bounce":
        bounce = message.get("bounce") or {}
        bounce_type = bounce.get("bounceType")  # Permanent, Transient or Undetermined
        for r in bounce.get("bouncedRecipients") or []:
            text = str(r.get("diagnosticCode") or r.get("status") or "")
            verdict = _SES_TRANSIENT.get(str(bounce.get("bounceSubType")))
            if bounce_type == "Permanent" or verdict is None:
                verdict = provider_verdict(
                    bounce_type == "Permanent", str(r.get("status") or ""), text
                )
            found.append(
                WebhookEvent(
                    message_id,
                    str(r.get("emailAddress", "")),
                    EventType.MESSAGE_BOUNCED,
                    text,
                    str(bounce.get("feedbackId", "")),
                    f"Bounce ({bounce_type}/{bounce.get('bounceSubType')})",
                    verdict,
                )
            )
    elif kind == "Complaint":
        complaint = message.get("complaint") or {}
        for r in complaint.get("complainedRecipients") or []:
            found.append(
                WebhookEvent(
                    message_id,
                    str(r.get("emailAddress", "")),
                    EventType.MESSAGE_COMPLAINED,
                    str(complaint.get("complaintFeedbackType", "")),
                    str(complaint.get("feedbackId", "")),
                    "Complaint",
                )
            )
    elif kind == "Delivery":
        delivery = message.get("delivery") or {}
        for address in delivery.get("recipients") or []:
            found.append(
                WebhookEvent(
                    message_id,
                    str(address),
                    EventType.MESSAGE_DELIVERED,
                    str(delivery.get("smtpResponse", "")),
                    f"{mail.get('messageId', '')}/delivery",
                    "Delivery",
                )
            )
    return found


class SnsCertificates:
    """Fetches and caches SNS signing certificates, only from the allowed URL prefix."""

    def __init__(self, prefix: str, ca_file: str) -> None:
        self._prefix = prefix
        self._context = ssl.create_default_context()
        if ca_file:
            self._context.load_verify_locations(ca_file)
        self._cache: dict[str, bytes] = {}

    def allowed(self, url: str) -> bool:
        """Whether ``url`` is under the SNS prefix (https only)."""
        return url.startswith(self._prefix) and url.startswith("https://")

    async def get(self, url: str) -> bytes:
        """The PEM certificate at ``url``; raises Refused when it is not SNS's."""
        if not self.allowed(url):
            raise Refused(f"signing certificate URL {url!r} is not SNS's")
        if url not in self._cache:
            self._cache[url] = await self.fetch(url)
        return self._cache[url]

    async def fetch(self, url: str) -> bytes:
        """GET ``url`` over verified HTTPS (also used to confirm subscriptions)."""
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, ssl=self._context, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    raise Refused(f"{url} answered {response.status}")
                return await response.content.read(64 * 1024)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Refused(f"cannot fetch {url}: {exc}") from exc


# ---- recording -----------------------------------------------------------------------------


def record(
    conn: sqlite3.Connection,
    found: list[WebhookEvent],
    provider: str,
    route: str,
    settings: FeedbackSettings,
) -> int:
    """Record the events of messages that exist and went to the event's recipient, with
    their effect on the suppression list; returns how many were recorded. Runs on the
    store's writer thread."""
    recorded = 0
    now = time.time()
    source = f"{provider} webhook"
    for event in found:
        row = conn.execute(
            "SELECT tenant_id, campaign_id, email, state FROM messages WHERE id = ?",
            (event.message_id,),
        ).fetchone()
        if row is None or row[2].lower() != event.email.lower():
            log.info(
                "%s webhook: no message %d to %s; event ignored",
                provider,
                event.message_id,
                event.email,
            )
            continue
        tenant_id, campaign_id, email, state = row
        about = About(tenant_id, email, campaign_id, event.message_id)
        attrs = {"route": route, "event": event.detail}
        if event.reason:
            attrs["reply"] = event.reason
        if event.event_id:
            attrs["remote_event_id"] = event.event_id
        if event.type is EventType.MESSAGE_BOUNCED:
            if state == MessageState.BOUNCED:
                continue  # already known
            verdict = event.verdict or provider_verdict(True, "", event.reason)
            feedback.async_bounce(conn, about, verdict, source, now, settings, attrs)
        elif event.type is EventType.MESSAGE_COMPLAINED:
            feedback.complaint(conn, about, source, now, attrs)
        elif event.type is EventType.MESSAGE_UNSUBSCRIBED:
            if not feedback.unsubscribe(conn, about, source, now, attrs=attrs):
                continue  # suppressed already: nothing changed
        else:
            events.append(
                conn,
                tenant_id,
                event.type,
                campaign_id=campaign_id,
                message_id=event.message_id,
                email=email,
                attrs={"source": source, **attrs},
            )
        recorded += 1
    return recorded


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Malformed(f"not JSON: {exc}") from None


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    data = _json(body)
    if not isinstance(data, dict):
        raise Malformed(f"{what} is not a JSON object")
    return data


class _Receiver:
    """The handler of one route's webhooks, with what it needs to verify them."""

    def __init__(
        self, route: str, provider: str, secret: str, sns: SnsCertificates | None = None
    ) -> None:
        self.route = route
        self.provider = provider
        self._secret = secret  # for SES: the topic ARN
        self._sns = sns
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def _ses(self, data: Mapping[str, Any]) -> list[WebhookEvent]:
        assert self._sns is not None
        if data.get("TopicArn") != self._secret:
            raise Refused(f"topic {data.get('TopicArn')!r} is not this route's")
        verify_sns(data, await self._sns.get(str(data.get("SigningCertURL", ""))))
        kind = data.get("Type")
        if kind == "SubscriptionConfirmation":
            url = str(data.get("SubscribeURL", ""))
            if not self._sns.allowed(url):
                raise Refused(f"SubscribeURL {url!r} is not SNS's")
            await self._sns.fetch(url)
            log.info("%s: SNS subscription to %s confirmed", self.route, self._secret)
            return []
        if kind != "Notification":
            return []
        return parse_ses(_json_object(str(data.get("Message", "")).encode(), "the SNS Message"))

    async def events(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verify the request and parse its events; raises Refused or Malformed."""
        now = time.time()
        if self.provider == "sendgrid":
            verify_sendgrid(self._secret, headers, body, now)
            return parse_sendgrid(body)
        data = _json_object(body, "the body")
        if self.provider == "ses":
            return await self._ses(data)
        if self.provider == "mailgun":
            verify_mailgun(self._secret, data, now)
            return parse_mailgun(data)
        verify_postmark(self._secret, headers)
        return parse_postmark(data)

    def fresh(self, found: list[WebhookEvent]) -> list[WebhookEvent]:
        """Drop events this agent has recorded already (providers retry until they get 2xx)."""
        kept = []
        for event in found:
            key = f"{event.event_id}/{event.message_id}/{int(event.type)}" if event.event_id else ""
            if key and key in self._seen:
                continue
            if key:
                self._seen[key] = None
                if len(self._seen) > _SEEN_EVENTS:
                    self._seen.popitem(last=False)
            kept.append(event)
        return kept


def _receivers(settings: AgentSettings) -> dict[str, _Receiver]:
    found: dict[str, _Receiver] = {}
    for name, config in settings.routes.items():
        try:
            if isinstance(config, SendGridRoute) and config.webhook_public_key:
                found[name] = _Receiver(name, "sendgrid", config.webhook_public_key)
            elif isinstance(config, MailgunRoute) and config.webhook_signing_key_file:
                key = read_password(settings.data_dir / config.webhook_signing_key_file)
                found[name] = _Receiver(name, "mailgun", key)
            elif isinstance(config, SesRoute) and config.webhook_topic_arn:
                prefix = (
                    config.webhook_cert_url_prefix or f"https://sns.{config.region}.amazonaws.com/"
                )
                sns = SnsCertificates(prefix, config.webhook_ca_file)
                found[name] = _Receiver(name, "ses", config.webhook_topic_arn, sns)
            elif isinstance(config, PostmarkRoute) and config.webhook_credentials_file:
                pair = read_password(settings.data_dir / config.webhook_credentials_file)
                if ":" not in pair:
                    raise RouteConfigError(f"{config.webhook_credentials_file}: not user:password")
                found[name] = _Receiver(name, "postmark", pair)
        except RouteConfigError as exc:
            raise RouteConfigError(f"route {name}: webhook: {exc}") from None
    return found


def mount(settings: AgentSettings) -> Mount:
    """The webhook endpoints of every ESP route that has its verification secret configured.

    Raises RouteConfigError at start-up for an unreadable or unsafe secret file.
    """
    receivers = _receivers(settings)

    async def handle(request: web.Request) -> web.Response:
        receiver = receivers.get(request.match_info["route"])
        if receiver is None:
            return web.json_response({"error": "no webhooks for this route"}, status=404)
        body = await request.read()
        try:
            found = receiver.fresh(await receiver.events(request.headers, body))
        except Refused as exc:
            log.warning("%s webhook refused: %s", receiver.route, exc)
            return web.json_response({"error": "verification failed"}, status=401)
        except Malformed as exc:
            return web.json_response({"error": str(exc)}, status=400)
        store = request.app[STORE_KEY]
        recorded = await store.write(
            lambda c: record(c, found, receiver.provider, receiver.route, settings.feedback)
        )
        return web.json_response({"recorded": recorded})

    def add(app: web.Application) -> None:
        app.router.add_post("/webhooks/{route}", handle)

    return add
