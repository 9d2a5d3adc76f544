"""A rendered message taken apart for APIs that want fields, not MIME (SendGrid, Postmark).

The provider builds (and DKIM-signs) its own MIME from these fields, so every header of ours
that matters to recipients (List-Unsubscribe, Reply-To, our own X- headers) is carried over;
the ones the provider sets itself are left out.
"""

from __future__ import annotations

import base64
import email.policy
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

# Headers the provider writes itself (or that describe our MIME structure, which it rebuilds).
_PROVIDER_SET = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "dkim-signature",
    "reply-to",
}


class UnusableMessage(ValueError):
    """The message cannot be expressed in the provider's fields (no From, no body)."""


@dataclass(frozen=True)
class Attachment:
    """One attached file."""

    filename: str
    content_type: str
    content_b64: str
    content_id: str = ""  # for inline parts referenced from the HTML


@dataclass(frozen=True)
class Structured:
    """The fields a structured send API needs."""

    from_email: str
    from_name: str
    subject: str
    text: str
    html: str
    reply_to: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def _address(message: EmailMessage, name: str) -> Address | None:
    header = message.get(name)
    if header is None:
        return None
    addresses = getattr(header, "addresses", ())
    return addresses[0] if addresses else None


def _body(part: object) -> str:
    return part.get_content() if isinstance(part, EmailMessage) else ""


def take_apart(data: bytes) -> Structured:
    """The fields of one complete RFC 5322 message; raises :class:`UnusableMessage`."""
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    sender = _address(message, "From")
    if sender is None or not sender.addr_spec:
        raise UnusableMessage("the message has no From address")
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    # The wire form's CRLF line ends become plain newlines: JSON APIs build their own MIME.
    text = _body(text_part).replace("\r\n", "\n")
    html = _body(html_part).replace("\r\n", "\n")
    if not text and not html:
        raise UnusableMessage("the message has neither a text nor an HTML body")
    attachments = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        attachments.append(
            Attachment(
                filename=part.get_filename() or "attachment",
                content_type=part.get_content_type(),
                content_b64=base64.b64encode(payload).decode("ascii"),
                content_id=(part.get("Content-ID") or "").strip("<> "),
            )
        )
    reply_to = _address(message, "Reply-To")
    headers = [(k, str(v)) for k, v in message.items() if k.lower() not in _PROVIDER_SET]
    return Structured(
        from_email=sender.addr_spec,
        from_name=sender.display_name,
        subject=str(message.get("Subject", "")),
        text=text,
        html=html,
        reply_to=reply_to.addr_spec if reply_to else "",
        headers=headers,
        attachments=attachments,
    )
