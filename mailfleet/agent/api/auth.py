"""Who is calling: API keys from metadata, checked once per call by the interceptor, and
whether the key's scope allows the call (the table in :mod:`mailfleet.agent.api.rpc_rules`).

The interceptor is also the one place where :class:`mailfleet.agent.errors.AgentError` becomes a
gRPC status, and where an unexpected exception becomes INTERNAL without leaking its details.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.message import Message

from mailfleet.agent.api import audit as audit_log
from mailfleet.agent.api import rpc_rules
from mailfleet.agent.api.audit import AuditLog
from mailfleet.agent.api.rpc_rules import Audit
from mailfleet.agent.errors import AgentError, PermissionDenied, Unauthenticated
from mailfleet.agent.identity import keys, scopes
from mailfleet.agent.identity.scopes import Scope
from mailfleet.agent.store import tenants
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.space import DiskFull, is_out_of_space
from mailfleet.agent.store.tenants import KeyRecord

log = logging.getLogger("mailfleet.agent.api")

if TYPE_CHECKING:  # grpc's classes are generic only in the type stubs
    Handler = grpc.RpcMethodHandler[Any, Any]

# Stock tools (load balancers, grpcurl) use these without our keys; they reveal no tenant data.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


@dataclass(frozen=True)
class Principal:
    """The tenant and key behind the current call."""

    tenant_id: int
    key_id: str
    scope: Scope
    # The key's label and the person it was made for, as the audit log names the caller.
    key_name: str = ""
    person: str = ""

    @property
    def admin(self) -> bool:
        """Whether the caller may do everything, for every tenant."""
        return self.scope is Scope.ADMIN


_principal: ContextVar[Principal] = ContextVar("mailfleet_principal")

# How long a key read from the store is trusted before it is read again: a key revoked by the
# command line (beside the running agent) stops working within this time; one revoked over the
# API at once.
RECHECK_SECONDS = 5.0


def caller() -> Principal:
    """The authenticated caller of the RPC being served."""
    return _principal.get()


def require_admin() -> Principal:
    """The caller, who must hold an admin key."""
    principal = caller()
    if not principal.admin:
        raise PermissionDenied("this call needs an admin API key")
    return principal


def permit(method: str, who: Principal) -> None:
    """Raise PermissionDenied unless ``who``'s scope allows ``method`` (rpc_rules' table)."""
    rule = rpc_rules.rule_of(method)
    rpc = rpc_rules.short_name(method)
    if rule is None:
        raise PermissionDenied(f"{rpc} is not open to any API key on this agent version")
    need = rule.need
    if not scopes.allows(who.scope, need):
        wanted = scopes.narrowest_for(need)
        wider = "" if wanted is Scope.ADMIN else " (or a wider one)"
        raise PermissionDenied(
            f"{rpc} needs an API key with the {wanted} scope{wider}; this key has the"
            f" {who.scope} scope"
        )


def _expiry_text(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


class KeyRing:
    """Checks presented keys against the store, caching the (hashed) records it has seen."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: dict[str, tuple[KeyRecord, float]] = {}

    def forget(self, key_id: str) -> None:
        """Drop a cached key, e.g. after it was revoked."""
        self._known.pop(key_id, None)

    async def _record(self, key_id: str) -> KeyRecord | None:
        now = time.monotonic()
        cached = self._known.get(key_id)
        if cached is not None and now - cached[1] < RECHECK_SECONDS:
            return cached[0]
        record = await self._store.read(lambda c: tenants.find_key(c, key_id))
        if record is not None and record.revoked_at is None:
            self._known[key_id] = (record, now)
        else:
            self._known.pop(key_id, None)
        return record

    async def authenticate(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Principal:
        """The principal for the ``authorization: Bearer <key>`` in the call's metadata."""
        presented = ""
        for name, value in metadata or ():
            if name == "authorization" and isinstance(value, str):
                presented = value.removeprefix("Bearer ").strip()
        if not presented:
            raise Unauthenticated("missing API key: send metadata 'authorization: Bearer <key>'")
        parts = keys.split(presented)
        if parts is None:
            raise Unauthenticated("malformed API key")
        key_id, secret = parts
        record = await self._record(key_id)
        if record is None or record.revoked_at is not None:
            raise Unauthenticated("unknown or revoked API key")
        if not keys.secret_matches(secret, record.secret_hash):
            raise Unauthenticated("unknown or revoked API key")
        if record.expires_at is not None and record.expired(time.time()):
            raise Unauthenticated(
                f"this API key expired on {_expiry_text(record.expires_at)}; ask for a new one"
            )
        return Principal(record.tenant_id, record.key_id, record.scope, record.name, record.person)


async def _fail(context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
    if isinstance(exc, AgentError):
        await context.abort(exc.status, str(exc))
    if is_out_of_space(exc):  # a file beside the store (routing.json) could not be written
        await context.abort(DiskFull.status, str(DiskFull()))
    log.error("internal error in %s", type(exc).__name__, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the agent's log has details")


class _Counted:
    """A stream of requests as the handler reads it, remembering its first item and length."""

    def __init__(self, stream: AsyncIterator[Message]) -> None:
        self._stream = stream
        self.first: Message | None = None
        self.count = 0

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> Message:
        item = await self._stream.__anext__()
        if self.first is None:
            self.first = item
        self.count += 1
        return item


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, AgentError):
        return exc.status.name.lower().replace("_", " ")
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"  # the client went away; what the call did so far stands
    return "aborted" if isinstance(exc, grpc.aio.AbortError) else "internal"


@dataclass(frozen=True)
class _Call:
    """One call as the interceptor saw it: the method, its rule, and who made it (or why it
    is refused)."""

    method: str
    rule: rpc_rules.Rule | None
    who: Principal | None
    refusal: AgentError | None
    log: AuditLog | None

    def enter(self) -> None:
        if self.refusal is not None:
            raise self.refusal
        assert self.who is not None
        _principal.set(self.who)

    async def audit(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        request: Any,
        response: Any,
        outcome: str,
    ) -> None:
        """Enter the call in the audit log, as its rule says."""
        if self.log is None or self.who is None or self.rule is None:
            return  # not authenticated: nobody to name (the metrics count those)
        kind = self.rule.audit
        peer = audit_log.peer_host(context.peer())
        action = rpc_rules.short_name(self.method)
        if kind is Audit.SUMMED and outcome == "ok":
            self.log.count_send(self.who, peer, action, _messages_in(request))
        elif kind is Audit.EACH:
            batches = 0
            if isinstance(request, _Counted):
                request, batches = request.first, request.count
            summary = audit_log.summarise(request, response, batches)
            await self.log.record(self.who, peer, action, summary, outcome)


def _messages_in(request: Any) -> int:
    """Messages a send carried: a batch's count, else one."""
    batch = getattr(request, "messages", None)
    return len(batch) if batch is not None else 1


def _wrap(handler: Handler, call: _Call) -> Handler:
    kw = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary or handler.stream_unary:
        # Under grpc.aio the registered behaviours are coroutine functions and async generators.
        inner = cast(Callable[..., Awaitable[Any]], handler.unary_unary or handler.stream_unary)
        streamed = handler.stream_unary is not None

        async def unary_response(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if streamed:
                request = _Counted(request)
            response, outcome = None, "ok"
            try:
                call.enter()
                response = await inner(request, context)
                return response
            except (grpc.aio.AbortError, asyncio.CancelledError) as exc:
                outcome = _outcome(exc)
                raise
            except Exception as exc:
                outcome = _outcome(exc)
                await _fail(context, exc)
            finally:
                await call.audit(context, request, response, outcome)

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary_response, **kw)
        return grpc.stream_unary_rpc_method_handler(unary_response, **kw)

    streamer = cast(
        Callable[..., AsyncIterator[Any]], handler.unary_stream or handler.stream_stream
    )

    async def stream_response(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        # Streamed answers are reads only (a test holds every audited RPC to a single answer).
        try:
            call.enter()
            async for item in streamer(request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, exc)

    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_response, **kw)
    return grpc.stream_stream_rpc_method_handler(stream_response, **kw)


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Authenticates every call except health and reflection, checks the key's scope against
    the call, maps errors to statuses, and enters state-changing calls in the audit log."""

    def __init__(self, ring: KeyRing, log: AuditLog | None = None) -> None:
        self._ring = ring
        self._log = log

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        who: Principal | None = None
        refusal: AgentError | None = None
        try:
            who = await self._ring.authenticate(handler_call_details.invocation_metadata)
            permit(method, who)
        except AgentError as exc:
            refusal = exc
        return _wrap(handler, _Call(method, rpc_rules.rule_of(method), who, refusal, self._log))
