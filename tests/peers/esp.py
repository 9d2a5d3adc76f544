"""Local stand-ins for the ESP HTTP APIs, speaking each provider's documented shapes.

Each checks the provider's authentication, reads the documented request body and answers as
the provider's documentation shows (SendGrid 202 + ``X-Message-Id``; Mailgun 200 ``{"id",
"message"}``; SES v2 200 ``{"MessageId"}`` after checking the SigV4 signature with botocore;
Postmark 200 ``{"ErrorCode": 0, "MessageID", ...}``, a list for batches). Tests can script the
next replies (400, 429 with Retry-After, 500) with :meth:`ProviderStandIn.script`.

The server runs on its own event loop in a thread, so a test or a real agent can call it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.peers.smtp import free_port
from tests.peers.threaded_app import ThreadedApp

Provider = Literal["sendgrid", "mailgun", "ses", "postmark"]


@dataclass(frozen=True)
class Recorded:
    """One request as the stand-in received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, bytes] = field(default_factory=dict)  # multipart fields (Mailgun)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Scripted:
    """A reply to give instead of the provider's normal answer."""

    status: int
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)


class ProviderStandIn:
    """One provider's API on 127.0.0.1."""

    def __init__(
        self,
        provider: Provider,
        key: str,
        *,
        ses_access_key_id: str = "AKIDEXAMPLE",
        ses_region: str = "eu-west-1",
    ) -> None:
        self.provider = provider
        self.key = key
        self.port = free_port()
        self.requests: list[Recorded] = []
        self.accepted: list[Recorded] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._ses_access_key_id = ses_access_key_id
        self._ses_region = ses_region
        self._server = ThreadedApp(f"{provider}-standin")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Scripted) -> None:
        """Give these replies, in order, to the next requests."""
        with self._lock:
            self._script.extend(replies)

    # ---- life cycle ----------------------------------------------------------------------

    def start(self) -> ProviderStandIn:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server.start(app, "127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> ProviderStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- requests ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        form: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            reader = await _reread_multipart(request, body)
            form = reader
        recorded = Recorded(request.method, request.path, dict(request.headers), body, form)
        with self._lock:
            self.requests.append(recorded)
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            payload = scripted.body
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            return web.Response(
                status=scripted.status,
                body=data,
                headers={"Content-Type": "application/json", **scripted.headers},
            )
        handler = getattr(self, f"_{self.provider}")
        response: web.Response = handler(request, recorded)
        if 200 <= response.status < 300:
            with self._lock:
                self.accepted.append(recorded)
        return response

    def _sendgrid(self, request: web.Request, r: Recorded) -> web.Response:
        if r.headers.get("Authorization") != f"Bearer {self.key}":
            return _json(
                401,
                {
                    "errors": [
                        {
                            "message": "The provided authorization grant is "
                            "invalid, expired, or revoked",
                            "field": None,
                        }
                    ]
                },
            )
        if r.path != "/v3/mail/send":
            return _json(404, {"errors": [{"message": "not found"}]})
        data = r.json()
        errors = []
        if not data.get("personalizations"):
            errors.append(
                {"message": "The personalizations field is required.", "field": "personalizations"}
            )
        if not data.get("from", {}).get("email"):
            errors.append({"message": "The from object must be provided.", "field": "from"})
        if not data.get("content"):
            errors.append(
                {
                    "message": "Unless a valid template_id is provided, the content "
                    "parameter is required.",
                    "field": "content",
                }
            )
        if errors:
            return _json(400, {"errors": errors})
        return web.Response(status=202, headers={"X-Message-Id": uuid.uuid4().hex[:22]})

    def _mailgun(self, request: web.Request, r: Recorded) -> web.Response:
        expected = base64.b64encode(f"api:{self.key}".encode()).decode()
        if r.headers.get("Authorization") != f"Basic {expected}":
            return web.Response(status=401, text="Forbidden")
        if not r.path.endswith("/messages.mime"):
            return _json(404, {"message": "not found"})
        if "to" not in r.form:
            return _json(400, {"message": "'to' parameter is missing"})
        if "message" not in r.form:
            return _json(400, {"message": "'message' parameter is missing"})
        domain = r.path.split("/")[2]
        return _json(200, {"id": f"<{uuid.uuid4().hex}@{domain}>", "message": "Queued. Thank you."})

    def _ses(self, request: web.Request, r: Recorded) -> web.Response:
        if not self._ses_signature_ok(r):
            return _json(
                403,
                {
                    "message": "The request signature we calculated does not match the signature "
                    "you provided."
                },
                {"x-amzn-ErrorType": "SignatureDoesNotMatchException:"},
            )
        if r.path != "/v2/email/outbound-emails":
            return _json(404, {"message": "not found"})
        data = r.json()
        try:
            base64.b64decode(data["Content"]["Raw"]["Data"], validate=True)
        except (KeyError, ValueError):
            return _json(
                400,
                {"message": "Raw content is not valid"},
                {"x-amzn-ErrorType": "BadRequestException:"},
            )
        return _json(200, {"MessageId": f"0102{uuid.uuid4().hex}-000000"})

    def _ses_signature_ok(self, r: Recorded) -> bool:
        """Recompute the SigV4 signature from what arrived, as SES does."""
        auth = r.headers.get("Authorization", "")
        amz_date = r.headers.get("X-Amz-Date", "")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or not amz_date:
            return False
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
        signed = fields.get("SignedHeaders", "").split(";")
        headers = {k: v for k, v in r.headers.items() if k.lower() in signed}
        url = f"https://email.{self._ses_region}.amazonaws.com{r.path}"
        request = AWSRequest(method=r.method, url=url, data=r.body, headers=headers)
        request.context["timestamp"] = amz_date
        credentials = Credentials(self._ses_access_key_id, self.key)
        signer = SigV4Auth(credentials, "ses", self._ses_region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        credential = f"{self._ses_access_key_id}/{amz_date[:8]}/{self._ses_region}/ses"
        return fields.get("Signature") == expected and fields.get("Credential", "").startswith(
            credential
        )

    def _postmark(self, request: web.Request, r: Recorded) -> web.Response:
        if r.headers.get("X-Postmark-Server-Token") != self.key:
            return _json(
                401, {"ErrorCode": 10, "Message": "Request does not contain a valid Server token."}
            )
        data = r.json()
        if r.path == "/email":
            return _json(200, _postmark_one(data))
        if r.path == "/email/batch":
            if not isinstance(data, list) or len(data) > 500:
                return _json(422, {"ErrorCode": 300, "Message": "Invalid batch"})
            return _json(200, [_postmark_one(m) for m in data])
        return _json(404, {"ErrorCode": 404, "Message": "not found"})


def _postmark_one(message: Any) -> dict[str, Any]:
    to = str(message.get("To", "")) if isinstance(message, dict) else ""
    if "@" not in to:
        return {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{to}'."}
    if to.startswith("inactive@"):
        return {
            "ErrorCode": 406,
            "Message": "You tried to send to recipient(s) that have been marked as inactive.",
        }
    return {
        "To": to,
        "SubmittedAt": "2026-11-28T10:00:00.0000000-05:00",
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


async def _reread_multipart(request: web.Request, body: bytes) -> dict[str, bytes]:
    """The multipart fields of a body already read (aiohttp reads a stream only once)."""
    from aiohttp import MultipartReader
    from aiohttp.streams import StreamReader

    stream = StreamReader(request.protocol, 2**16, loop=asyncio.get_running_loop())
    stream.feed_data(body)
    stream.feed_eof()
    reader = MultipartReader(request.headers, stream)
    fields: dict[str, bytes] = {}
    while (part := await reader.next()) is not None:
        assert not isinstance(part, MultipartReader)
        if part.name:
            fields[part.name] = bytes(await part.read())
    return fields
