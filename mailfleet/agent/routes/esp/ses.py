"""Amazon SES v2 ``POST /v2/email/outbound-emails`` (SendEmail) with raw content.

The DKIM-signed message goes base64-encoded as ``Content.Raw.Data``; requests are signed with
AWS Signature Version 4 by botocore's signer. Answers 200 ``{"MessageId": ...}``; errors carry
``x-amzn-ErrorType`` and ``{"message": ...}``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mailfleet.agent.routes.base import Envelope, Outcome, OutcomeKind
from mailfleet.agent.routes.esp.base import METADATA_KEY, EspRoute
from mailfleet.agent.routes.esp.http import HttpReply, accepted, json_bytes, refused
from mailfleet.agent.routes.settings import SesRoute

# Error types that say our account or setup cannot send now, not that the message is bad.
_ACCOUNT_ERRORS = {
    "LimitExceededException",  # the daily quota is used up
    "SendingPausedException",
    "AccountSuspendedException",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",  # e.g. an unknown configuration set
}


def error_type(reply: HttpReply) -> str:
    """The SES error's type name, e.g. "MessageRejected"."""
    raw = reply.headers.get("x-amzn-ErrorType", "")
    if not raw:
        data = reply.json()
        raw = str(data.get("__type", "")) if isinstance(data, dict) else ""
    return raw.split(":", 1)[0].rpartition("#")[2]


def error_text(reply: HttpReply) -> str:
    """The error's type and message."""
    data = reply.json()
    message = ""
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("Message") or "")
    kind = error_type(reply)
    return f"{kind}: {message}" if kind and message else (kind or message or reply.text())


class Ses(EspRoute[dict[str, Any]]):
    """One SendEmail request per message."""

    def __init__(self, name: str, settings: SesRoute, secret_key: str) -> None:
        super().__init__(name, settings, f"https://email.{settings.region}.amazonaws.com")
        self._signer = SigV4Auth(
            Credentials(settings.access_key_id, secret_key), "ses", settings.region
        )
        self._configuration_set = settings.configuration_set

    def prepare(self, envelope: Envelope) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Destination": {"ToAddresses": [envelope.rcpt_to]},
            "Content": {"Raw": {"Data": base64.b64encode(envelope.data).decode("ascii")}},
            "EmailTags": [{"Name": METADATA_KEY, "Value": str(envelope.message_id)}],
        }
        if self._configuration_set:
            body["ConfigurationSetName"] = self._configuration_set
        return body

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]:
        """The headers with a fresh SigV4 signature (X-Amz-Date, Authorization)."""
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        self._signer.add_auth(request)
        return dict(request.headers.items())

    async def request(self, items: list[tuple[Envelope, dict[str, Any]]]) -> HttpReply:
        [(_, body)] = items
        data = json_bytes(body)
        return await self.http.call(
            "POST",
            "/v2/email/outbound-emails",
            body=lambda: data,
            headers={"Content-Type": "application/json"},
            sign=self.sign,
        )

    def outcomes(
        self, items: list[tuple[Envelope, dict[str, Any]]], reply: HttpReply
    ) -> list[Outcome]:
        [(envelope, _)] = items
        host = self.http.host
        if 200 <= reply.status < 300:
            data = reply.json()
            remote = str(data.get("MessageId", "")) if isinstance(data, dict) else ""
            return [accepted(envelope.message_id, reply, host, remote)]
        if error_type(reply) in _ACCOUNT_ERRORS:
            reason = f"{reply.status} {error_text(reply)}"
            return [
                Outcome(
                    envelope.message_id, OutcomeKind.DEFERRED, reason, host, infrastructure=True
                )
            ]
        return [refused(envelope.message_id, reply, host, error_text(reply))]
