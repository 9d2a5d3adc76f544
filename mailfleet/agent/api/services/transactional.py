"""Transactional: single messages and batches, each with an idempotency key."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

import grpc

from mailfleet.agent import validation
from mailfleet.agent.api import auth, requests
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.model import StoredMessage, TransactionalMessage, payload
from mailfleet.agent.store import messages
from mailfleet.agent.store.handle import Store
from mailfleet.agent.validation import (
    AddressProblem,
    address_problem,
    is_field_name,
    normalize_address,
)
from mailfleet.v1 import common_pb2, messages_pb2, transactional_pb2, transactional_pb2_grpc

MAX_BATCH = 1000


def _raw_mime(field: str, raw: bytes) -> bytes:
    if b"\x00" in raw:
        raise InvalidArgument(field, "holds a NUL byte")
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    if not headers.get("From"):
        raise InvalidArgument(field, "has no From header")
    if not headers.keys() or headers.defects:
        raise InvalidArgument(field, "does not start with a valid header section")
    return raw


def _message(req: transactional_pb2.SendMessageRequest, prefix: str) -> TransactionalMessage:
    """Check one request; raises InvalidArgument naming the field (with ``prefix``)."""
    key = requests.idempotency_key(f"{prefix}idempotency_key", req.idempotency_key)
    sender = requests.sender(f"{prefix}sender", req.sender)
    email = req.to.email
    norm = normalize_address(email)
    if norm is None:
        problem = address_problem(email)
        raise InvalidArgument(
            f"{prefix}to.email",
            f"{email!r} is not a valid email address"
            if problem is AddressProblem.SYNTAX
            else "holds CR, LF, NUL or another control character",
        )
    name = validation.text_line(f"{prefix}to.name", req.to.name)
    if req.to.values:
        raise InvalidArgument(f"{prefix}to.values", "use to.fields for a single message")
    for field_name, value in req.to.fields.items():
        if not is_field_name(field_name) or "\x00" in value:
            raise InvalidArgument(f"{prefix}to.fields", f"{field_name!r} is not a usable field")
    body = req.WhichOneof("body")
    if body is None:
        raise InvalidArgument(f"{prefix}content", "content or raw_mime is required")
    content = requests.content(f"{prefix}content", req.content) if body == "content" else None
    raw = _raw_mime(f"{prefix}raw_mime", req.raw_mime) if body == "raw_mime" else None
    return TransactionalMessage(
        idempotency_key=key,
        sender=sender,
        email=email,
        email_norm=norm,
        payload=payload.encode(name, fields=req.to.fields),
        content=content,
        raw_mime=raw,
        tags=validation.tags(f"{prefix}tags", list(req.tags)),
        tracking=requests.tracking(req.tracking),
    )


def _response(stored: StoredMessage, duplicate: bool) -> transactional_pb2.SendMessageResponse:
    return transactional_pb2.SendMessageResponse(
        message_id=stored.id,
        state=messages_pb2.MessageState.ValueType(int(stored.state)),
        duplicate=duplicate,
    )


class TransactionalService(transactional_pb2_grpc.TransactionalServicer):
    """Queues transactional messages in the lane the scheduler serves first."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def SendMessage(
        self,
        request: transactional_pb2.SendMessageRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> transactional_pb2.SendMessageResponse:
        tenant_id = auth.caller().tenant_id
        msg = _message(request, "")
        stored, duplicate = await self._store.write(
            lambda c: messages.enqueue_transactional(c, tenant_id, msg)
        )
        return _response(stored, duplicate)

    async def SendBatch(
        self,
        request: transactional_pb2.SendBatchRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> transactional_pb2.SendBatchResponse:
        tenant_id = auth.caller().tenant_id
        if not 1 <= len(request.messages) <= MAX_BATCH:
            raise InvalidArgument("messages", f"1-{MAX_BATCH} messages per batch")
        results: dict[int, transactional_pb2.SendResult] = {}
        valid: list[tuple[int, TransactionalMessage]] = []
        for i, req in enumerate(request.messages):
            try:
                valid.append((i, _message(req, f"messages[{i}].")))
            except InvalidArgument as exc:
                reason = (
                    common_pb2.REJECT_REASON_SYNTAX
                    if exc.field.endswith("to.email")
                    else common_pb2.REJECT_REASON_INVALID
                )
                results[i] = transactional_pb2.SendResult(
                    index=i,
                    rejected=common_pb2.Rejection(
                        index=i, email=req.to.email, reason=reason, detail=str(exc)
                    ),
                )

        def enqueue_all(conn: Any) -> list[tuple[int, StoredMessage, bool]]:
            return [(i, *messages.enqueue_transactional(conn, tenant_id, m)) for i, m in valid]

        for i, stored, duplicate in await self._store.write(enqueue_all):
            results[i] = transactional_pb2.SendResult(index=i, queued=_response(stored, duplicate))
        return transactional_pb2.SendBatchResponse(results=[results[i] for i in sorted(results)])
