"""Capture: read the capture mailbox."""

from __future__ import annotations

from typing import Any

import grpc

from mailfleet.agent.api import auth, convert, requests
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.store import capture
from mailfleet.agent.store.capture import Captured
from mailfleet.agent.store.handle import Store
from mailfleet.v1 import capture_pb2, capture_pb2_grpc


def _message(c: Captured) -> capture_pb2.CapturedMessage:
    return capture_pb2.CapturedMessage(
        id=c.id,
        message_id=c.message_id,
        time=convert.timestamp(c.time),
        mail_from=c.mail_from,
        rcpt_to=c.rcpt_to,
        size=c.size,
        data=c.data,
    )


class CaptureService(capture_pb2_grpc.CaptureServicer):
    """Lists captured messages and returns one with its bytes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def ListCaptured(
        self, request: capture_pb2.ListCapturedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> capture_pb2.ListCapturedResponse:
        who = auth.caller()
        limit = requests.limit("limit", request.limit, 100, 1000)
        found = await self._store.read(
            lambda c: capture.list_(c, who.tenant_id, request.after_id, limit)
        )
        return capture_pb2.ListCapturedResponse(messages=[_message(m) for m in found])

    async def GetCaptured(
        self, request: capture_pb2.GetCapturedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> capture_pb2.CapturedMessage:
        who = auth.caller()
        if bool(request.captured_id) == bool(request.message_id):
            raise InvalidArgument("captured_id", "set exactly one of captured_id and message_id")
        found = await self._store.read(
            lambda c: capture.get(
                c, who.tenant_id, captured_id=request.captured_id, message_id=request.message_id
            )
        )
        return _message(found)
