"""Amazon SES events through SNS: RSA signatures checked with SNS's signing certificate,
subscriptions confirmed."""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mailfleet.agent.feedback.classify import Severity, Verdict
from mailfleet.agent.feedback.webhooks.events import (
    Malformed,
    Refused,
    WebhookEvent,
    our_message_id,
    provider_verdict,
)
from mailfleet.agent.model import EventType

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
    message_id = our_message_id(mail.get("tags"))
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
