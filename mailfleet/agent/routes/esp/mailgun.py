"""Mailgun ``POST /v3/{domain}/messages.mime`` (https://documentation.mailgun.com).

The DKIM-signed message goes as it is (a multipart form with ``to`` and the ``message`` file).
Answers 200 ``{"id": "<...>", "message": "Queued. Thank you."}``; errors ``{"message": ...}``.
"""

from __future__ import annotations

import base64

import aiohttp

from mailfleet.agent.routes.base import Envelope, Outcome
from mailfleet.agent.routes.esp.base import METADATA_KEY, EspRoute
from mailfleet.agent.routes.esp.http import HttpReply, accepted, refused
from mailfleet.agent.routes.settings import MailgunRoute

DEFAULT_URL = "https://api.mailgun.net"


def error_text(reply: HttpReply) -> str:
    """Mailgun's ``message`` field, else the body."""
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return reply.text()


class Mailgun(EspRoute[Envelope]):
    """One messages.mime request per message."""

    def __init__(self, name: str, settings: MailgunRoute, api_key: str) -> None:
        super().__init__(name, settings, DEFAULT_URL)
        self._path = f"/v3/{settings.domain}/messages.mime"
        self._auth = "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode("ascii")

    def prepare(self, envelope: Envelope) -> Envelope:
        return envelope

    async def request(self, items: list[tuple[Envelope, Envelope]]) -> HttpReply:
        [(envelope, _)] = items

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("to", envelope.rcpt_to)
            data.add_field(f"v:{METADATA_KEY}", str(envelope.message_id))
            data.add_field(
                "message", envelope.data, filename="message.mime", content_type="message/rfc822"
            )
            return data

        return await self.http.call(
            "POST", self._path, body=form, headers={"Authorization": self._auth}
        )

    def outcomes(self, items: list[tuple[Envelope, Envelope]], reply: HttpReply) -> list[Outcome]:
        [(envelope, _)] = items
        if 200 <= reply.status < 300:
            data = reply.json()
            remote = str(data.get("id", "")) if isinstance(data, dict) else ""
            return [accepted(envelope.message_id, reply, self.http.host, remote.strip("<>"))]
        return [refused(envelope.message_id, reply, self.http.host, error_text(reply))]
