"""``POST /webhooks/<route name>``: one receiver per ESP route with its verification secret."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from mailfleet.agent.feedback.settings import FeedbackSettings
from mailfleet.agent.feedback.webhooks import mailgun, postmark, sendgrid, ses
from mailfleet.agent.feedback.webhooks.events import (
    Malformed,
    Refused,
    WebhookEvent,
    json_object,
)
from mailfleet.agent.feedback.webhooks.record import record
from mailfleet.agent.routes.base import RouteConfigError
from mailfleet.agent.routes.settings import (
    MailgunRoute,
    PostmarkRoute,
    RouteSettings,
    SendGridRoute,
    SesRoute,
)
from mailfleet.agent.routes.smtp_relay import read_password
from mailfleet.agent.web.server import STORE_KEY, Mount

log = logging.getLogger("mailfleet.agent.webhooks")

# Provider event ids remembered to drop the provider's retries of an event already recorded.
_SEEN_EVENTS = 100_000


class WebhookInputs(Protocol):
    """The settings the webhook receivers read; :class:`mailfleet.agent.config.AgentSettings` has
    them all."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def routes(self) -> Mapping[str, RouteSettings]: ...

    @property
    def feedback(self) -> FeedbackSettings: ...


class _Receiver:
    """The handler of one route's webhooks, with what it needs to verify them."""

    def __init__(
        self, route: str, provider: str, secret: str, sns: ses.SnsCertificates | None = None
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
        ses.verify_sns(data, await self._sns.get(str(data.get("SigningCertURL", ""))))
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
        return ses.parse_ses(json_object(str(data.get("Message", "")).encode(), "the SNS Message"))

    async def events(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verify the request and parse its events; raises Refused or Malformed."""
        now = time.time()
        if self.provider == "sendgrid":
            sendgrid.verify_sendgrid(self._secret, headers, body, now)
            return sendgrid.parse_sendgrid(body)
        data = json_object(body, "the body")
        if self.provider == "ses":
            return await self._ses(data)
        if self.provider == "mailgun":
            mailgun.verify_mailgun(self._secret, data, now)
            return mailgun.parse_mailgun(data)
        postmark.verify_postmark(self._secret, headers)
        return postmark.parse_postmark(data)

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


def _receivers(settings: WebhookInputs) -> dict[str, _Receiver]:
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
                sns = ses.SnsCertificates(prefix, config.webhook_ca_file)
                found[name] = _Receiver(name, "ses", config.webhook_topic_arn, sns)
            elif isinstance(config, PostmarkRoute) and config.webhook_credentials_file:
                pair = read_password(settings.data_dir / config.webhook_credentials_file)
                if ":" not in pair:
                    raise RouteConfigError(f"{config.webhook_credentials_file}: not user:password")
                found[name] = _Receiver(name, "postmark", pair)
        except RouteConfigError as exc:
            raise RouteConfigError(f"route {name}: webhook: {exc}") from None
    return found


def check_secrets(settings: WebhookInputs) -> None:
    """Read every ESP route's webhook secret; raises RouteConfigError for an unreadable or
    unsafe file, so a bad one stops the agent at start-up or a reload rather than at the first
    webhook."""
    _receivers(settings)


def mount(settings: WebhookInputs) -> Mount:
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
