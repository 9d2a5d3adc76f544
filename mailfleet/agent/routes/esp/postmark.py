"""Postmark ``POST /email`` and ``POST /email/batch`` (https://postmarkapp.com/developer).

Postmark takes no raw MIME, so messages go as fields (Postmark signs them). A batch carries up
to 500 messages and answers 200 with one ``{"ErrorCode", "Message", "MessageID"}`` per message,
in order; a request-level error is 422 ``{"ErrorCode", "Message"}``.
"""

from __future__ import annotations

from email.headerregistry import Address
from typing import Any

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routes.esp.base import METADATA_KEY, EspRoute
from mailfleet.agent.routes.esp.http import HttpReply, accepted, json_bytes, refused
from mailfleet.agent.routes.esp.structured import take_apart
from mailfleet.agent.routes.settings import PostmarkRoute

DEFAULT_URL = "https://api.postmarkapp.com"

# Postmark error codes (https://postmarkapp.com/developer/api/overview#error-codes).
_INACTIVE_RECIPIENT = 406  # the address bounced or complained before: Postmark suppresses it
_ACCOUNT_CODES = {10, 405, 412, 413}  # bad token, no credits, account pending, not allowed


def email_body(envelope: Envelope, stream: str) -> dict[str, Any]:
    """The JSON for one message."""
    parts = take_apart(envelope.data)
    sender = str(Address(display_name=parts.from_name, addr_spec=parts.from_email))
    body: dict[str, Any] = {
        "From": sender,
        "To": envelope.rcpt_to,
        "Subject": parts.subject,
        "MessageStream": stream,
        "Metadata": {METADATA_KEY: str(envelope.message_id)},
    }
    if parts.text:
        body["TextBody"] = parts.text
    if parts.html:
        body["HtmlBody"] = parts.html
    if parts.reply_to:
        body["ReplyTo"] = parts.reply_to
    if parts.headers:
        body["Headers"] = [{"Name": k, "Value": v} for k, v in parts.headers]
    if parts.attachments:
        body["Attachments"] = [
            {
                "Name": a.filename,
                "Content": a.content_b64,
                "ContentType": a.content_type,
                **({"ContentID": f"cid:{a.content_id}"} if a.content_id else {}),
            }
            for a in parts.attachments
        ]
    return body


class Postmark(EspRoute[dict[str, Any]]):
    """``/email`` for one message, ``/email/batch`` for up to ``batch_size``."""

    def __init__(self, name: str, settings: PostmarkRoute, token: str) -> None:
        super().__init__(name, settings, DEFAULT_URL)
        self.batch_size = settings.batch_size
        self._stream = settings.message_stream
        self._headers = {
            "X-Postmark-Server-Token": token,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def prepare(self, envelope: Envelope) -> dict[str, Any]:
        return email_body(envelope, self._stream)

    async def request(self, items: list[tuple[Envelope, dict[str, Any]]]) -> HttpReply:
        bodies = [body for _, body in items]
        if len(bodies) == 1:
            path, data = "/email", json_bytes(bodies[0])
        else:
            path, data = "/email/batch", json_bytes(bodies)
        return await self.http.call("POST", path, body=lambda: data, headers=self._headers)

    def _one(self, envelope: Envelope, result: Any, reply: HttpReply) -> Outcome:
        host = self.http.host
        if not isinstance(result, dict):
            return refused(envelope.message_id, reply, host, reply.text())
        code = result.get("ErrorCode", 0)
        text = str(result.get("Message", ""))
        if code == 0:
            return accepted(envelope.message_id, reply, host, str(result.get("MessageID", "")))
        reason = f"Postmark error {code}: {text}"
        if code == _INACTIVE_RECIPIENT:
            return Outcome(envelope.message_id, OutcomeKind.BOUNCED, reason, host)
        if code in _ACCOUNT_CODES:
            return Outcome(
                envelope.message_id, OutcomeKind.DEFERRED, reason, host, infrastructure=True
            )
        return Outcome(envelope.message_id, OutcomeKind.FAILED, reason, host)

    def outcomes(
        self, items: list[tuple[Envelope, dict[str, Any]]], reply: HttpReply
    ) -> list[Outcome]:
        data = reply.json()
        if reply.status == 200 and len(items) > 1 and isinstance(data, list):
            if len(data) == len(items):
                return [self._one(e, r, reply) for (e, _), r in zip(items, data, strict=True)]
        elif reply.status == 200 and len(items) == 1:
            return [self._one(items[0][0], data, reply)]
        if reply.status in (401, 403) or not isinstance(data, dict):
            return [refused(e.message_id, reply, self.http.host, reply.text()) for e, _ in items]
        # A request-level error (422): the same code applies to every message of the request.
        return [self._one(e, data, reply) for e, _ in items]
