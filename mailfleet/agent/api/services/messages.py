"""Messages: read single messages of campaigns and of the transactional lane."""

from __future__ import annotations

from typing import Any

import grpc

from mailfleet.agent.api import auth, convert, requests
from mailfleet.agent.model import MessageState
from mailfleet.agent.store import messages
from mailfleet.agent.store.handle import Store
from mailfleet.v1 import messages_pb2, messages_pb2_grpc


class MessagesService(messages_pb2_grpc.MessagesServicer):
    """Get one message; list messages by campaign and state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def GetMessage(
        self, request: messages_pb2.GetMessageRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> messages_pb2.Message:
        who = auth.caller()
        found = await self._store.read(lambda c: messages.get(c, who.tenant_id, request.message_id))
        return convert.message(found)

    async def ListMessages(
        self,
        request: messages_pb2.ListMessagesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> messages_pb2.ListMessagesResponse:
        who = auth.caller()
        limit = requests.limit("limit", request.limit, 100, 1000)
        state = MessageState(request.state) if request.state else None
        found = await self._store.read(
            lambda c: messages.list_(
                c, who.tenant_id, request.campaign_id or None, state, request.after_id, limit
            )
        )
        return messages_pb2.ListMessagesResponse(messages=[convert.message(m) for m in found])
