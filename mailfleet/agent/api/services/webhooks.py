"""Webhooks: the caller's tenant's event webhook endpoints and how their delivery stands."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import grpc

from mailfleet.agent.api import auth, convert
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.eventhooks import payload, signing
from mailfleet.agent.eventhooks.addresses import AddressPolicy, Refused
from mailfleet.agent.eventhooks.sender import Sender
from mailfleet.agent.eventhooks.settings import WebhookSettings
from mailfleet.agent.model import EventType
from mailfleet.agent.store import webhooks
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.webhooks import Endpoint
from mailfleet.v1 import webhooks_pb2, webhooks_pb2_grpc

_MAX_URL = 2000
_MAX_DESCRIPTION = 200


def _types(values: Iterable[int]) -> list[EventType]:
    known = {int(t) for t in EventType}
    found = [int(v) for v in values]
    if any(v not in known for v in found):
        raise InvalidArgument("event_types", "holds a value that is not an event type")
    return [EventType(v) for v in found]


def _description(text: str) -> str:
    if len(text) > _MAX_DESCRIPTION:
        raise InvalidArgument("description", f"at most {_MAX_DESCRIPTION} characters")
    return text


def _webhook(e: Endpoint, backlog: int) -> webhooks_pb2.Webhook:
    msg = webhooks_pb2.Webhook(
        id=e.id,
        url=e.url,
        event_types=[int(t) for t in e.event_types],  # type: ignore[misc]  # enum values
        description=e.description,
        enabled=e.enabled,
        disabled_reason=e.disabled_reason,
        last_error=e.last_error,
        backlog=backlog,
        delivered=e.delivered,
        created_at=convert.timestamp(e.created_at),
    )
    if e.failing_since is not None:
        msg.failing_since.CopyFrom(convert.timestamp(e.failing_since))
    if e.next_at is not None and e.enabled:
        msg.next_attempt_at.CopyFrom(convert.timestamp(e.next_at))
    return msg


class WebhooksService(webhooks_pb2_grpc.WebhooksServicer):
    """Creates, lists, changes, deletes and tests the caller's tenant's endpoints."""

    def __init__(self, store: Store, settings: WebhookSettings, agent_id: str) -> None:
        self._store = store
        self._settings = settings
        self._policy = AddressPolicy(settings)
        self._agent_id = agent_id

    async def _checked_url(self, url: str) -> str:
        """The URL when the agent may post to it: its form, and where its name resolves."""
        url = url.strip()
        if not url:
            raise InvalidArgument("url", "required")
        if len(url) > _MAX_URL:
            raise InvalidArgument("url", f"at most {_MAX_URL} characters")
        try:
            host, port = self._policy.check_url(url)
            await self._policy.check_resolves(host, port)
        except Refused as exc:
            raise InvalidArgument("url", str(exc)) from None
        return url

    async def _shown(self, endpoint: Endpoint) -> webhooks_pb2.Webhook:
        backlog = await self._store.read(lambda c: webhooks.backlog(c, endpoint))
        return _webhook(endpoint, backlog)

    async def CreateWebhook(
        self,
        request: webhooks_pb2.CreateWebhookRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> webhooks_pb2.CreateWebhookResponse:
        tenant_id = auth.caller().tenant_id
        url = await self._checked_url(request.url)
        types = _types(request.event_types)
        description = _description(request.description)
        secret = signing.new_secret()
        endpoint = await self._store.write(
            lambda c: webhooks.create(c, tenant_id, url, types, description, secret, time.time())
        )
        return webhooks_pb2.CreateWebhookResponse(
            webhook=await self._shown(endpoint), secret=secret
        )

    async def ListWebhooks(
        self,
        request: webhooks_pb2.ListWebhooksRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> webhooks_pb2.ListWebhooksResponse:
        tenant_id = auth.caller().tenant_id
        found = await self._store.read(
            lambda c: [(e, webhooks.backlog(c, e)) for e in webhooks.list_for_tenant(c, tenant_id)]
        )
        return webhooks_pb2.ListWebhooksResponse(webhooks=[_webhook(e, n) for e, n in found])

    async def UpdateWebhook(
        self,
        request: webhooks_pb2.UpdateWebhookRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> webhooks_pb2.UpdateWebhookResponse:
        tenant_id = auth.caller().tenant_id
        url = await self._checked_url(request.url) if request.HasField("url") else None
        types = _types(request.event_types) if request.set_event_types else None
        description = _description(request.description) if request.HasField("description") else None
        enabled = request.enabled if request.HasField("enabled") else None
        endpoint = await self._store.write(
            lambda c: webhooks.update(
                c,
                tenant_id,
                request.id,
                time.time(),
                url=url,
                types=types,
                description=description,
                enabled=enabled,
            )
        )
        return webhooks_pb2.UpdateWebhookResponse(webhook=await self._shown(endpoint))

    async def DeleteWebhook(
        self,
        request: webhooks_pb2.DeleteWebhookRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> webhooks_pb2.DeleteWebhookResponse:
        tenant_id = auth.caller().tenant_id
        await self._store.write(lambda c: webhooks.delete(c, tenant_id, request.id))
        return webhooks_pb2.DeleteWebhookResponse()

    async def TestWebhook(
        self,
        request: webhooks_pb2.TestWebhookRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> webhooks_pb2.TestWebhookResponse:
        tenant_id = auth.caller().tenant_id
        endpoint = await self._store.read(lambda c: webhooks.get(c, tenant_id, request.id))
        now = time.time()
        body = payload.test_body(self._agent_id, tenant_id, now)
        msg_id = f"msg_{self._agent_id}_{endpoint.id}_test_{int(now * 1000)}"
        async with Sender(self._settings) as sender:
            error = await sender.post(endpoint.url, endpoint.secret, msg_id, body)
        return webhooks_pb2.TestWebhookResponse(ok=not error, error=error)
