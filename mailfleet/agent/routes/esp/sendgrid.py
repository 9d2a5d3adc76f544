"""SendGrid v3 ``POST /v3/mail/send`` (https://www.twilio.com/docs/sendgrid/api-reference).

SendGrid takes no raw MIME, so the message goes as fields and SendGrid signs it with the
domain's DKIM keys configured there. Answers 202 with the id in ``X-Message-Id``; errors are
``{"errors": [{"message", "field"}]}``.
"""

from __future__ import annotations

from typing import Any

from mailfleet.agent.routes.base import Envelope, Outcome
from mailfleet.agent.routes.esp.base import METADATA_KEY, EspRoute
from mailfleet.agent.routes.esp.http import HttpReply, accepted, json_bytes, refused
from mailfleet.agent.routes.esp.structured import take_apart
from mailfleet.agent.routes.settings import SendGridRoute

DEFAULT_URL = "https://api.sendgrid.com"


def mail_send_body(envelope: Envelope) -> dict[str, Any]:
    """The mail/send JSON for one message."""
    parts = take_apart(envelope.data)
    body: dict[str, Any] = {
        "personalizations": [
            {
                "to": [{"email": envelope.rcpt_to}],
                "custom_args": {METADATA_KEY: str(envelope.message_id)},
            }
        ],
        "from": {"email": parts.from_email},
        "subject": parts.subject,
        "content": [
            {"type": kind, "value": value}
            for kind, value in (("text/plain", parts.text), ("text/html", parts.html))
            if value
        ],
    }
    if parts.from_name:
        body["from"]["name"] = parts.from_name
    if parts.reply_to:
        body["reply_to"] = {"email": parts.reply_to}
    if parts.headers:
        body["headers"] = dict(parts.headers)
    if parts.attachments:
        body["attachments"] = [
            {
                "content": a.content_b64,
                "filename": a.filename,
                "type": a.content_type,
                "disposition": "inline" if a.content_id else "attachment",
                **({"content_id": a.content_id} if a.content_id else {}),
            }
            for a in parts.attachments
        ]
    return body


def error_text(reply: HttpReply) -> str:
    """SendGrid's error messages joined ("field: message; ...")."""
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        texts = [
            f"{e['field']}: {e.get('message', '')}" if e.get("field") else str(e.get("message", ""))
            for e in data["errors"]
            if isinstance(e, dict)
        ]
        return "; ".join(t for t in texts if t)
    return reply.text()


class SendGrid(EspRoute[dict[str, Any]]):
    """One mail/send request per message (each is personalised already)."""

    def __init__(self, name: str, settings: SendGridRoute, api_key: str) -> None:
        super().__init__(name, settings, DEFAULT_URL)
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def prepare(self, envelope: Envelope) -> dict[str, Any]:
        return mail_send_body(envelope)

    async def request(self, items: list[tuple[Envelope, dict[str, Any]]]) -> HttpReply:
        [(_, body)] = items
        data = json_bytes(body)
        return await self.http.call(
            "POST", "/v3/mail/send", body=lambda: data, headers=self._headers
        )

    def outcomes(
        self, items: list[tuple[Envelope, dict[str, Any]]], reply: HttpReply
    ) -> list[Outcome]:
        [(envelope, _)] = items
        if 200 <= reply.status < 300:
            remote = reply.headers.get("X-Message-Id", "")
            return [accepted(envelope.message_id, reply, self.http.host, remote)]
        return [refused(envelope.message_id, reply, self.http.host, error_text(reply))]
