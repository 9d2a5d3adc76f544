"""A gRPC server interceptor that counts, times and tallies by status every call.

It sits in front of the auth interceptor, so refused calls (UNAUTHENTICATED) are counted too.
The labels are the conventional ``grpc_type``, ``grpc_service``, ``grpc_method`` and
``grpc_code`` of go-grpc-prometheus.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import grpc

from mailfleet.agent.telemetry.metrics import GRPC_HANDLED, GRPC_SECONDS, GRPC_STARTED

if TYPE_CHECKING:  # grpc's classes are generic only in the type stubs
    Handler = grpc.RpcMethodHandler[Any, Any]
    Context = grpc.aio.ServicerContext[Any, Any]


def _code(context: Context, failed: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if failed is None:
        return "OK"
    if isinstance(failed, Exception):
        return "UNKNOWN"
    return "CANCELLED"  # the call was cancelled under us (asyncio.CancelledError)


@dataclass(frozen=True)
class _Call:
    """The labels of one method: its kind, its service and its own name."""

    grpc_type: str
    grpc_service: str
    grpc_method: str

    @classmethod
    def of(cls, path: str, handler: Handler) -> _Call:
        service, _, method = path.lstrip("/").rpartition("/")
        if handler.unary_unary:
            kind = "unary"
        elif handler.stream_unary:
            kind = "client_stream"
        elif handler.unary_stream:
            kind = "server_stream"
        else:
            kind = "bidi_stream"
        return cls(kind, service, method)

    def labels(self) -> dict[str, str]:
        return {
            "grpc_type": self.grpc_type,
            "grpc_service": self.grpc_service,
            "grpc_method": self.grpc_method,
        }


def _observe(call: _Call, started: float, context: Context, failed: BaseException | None) -> None:
    labels = call.labels()
    GRPC_SECONDS.labels(**labels).observe(time.perf_counter() - started)
    GRPC_HANDLED.labels(**labels, grpc_code=_code(context, failed)).inc()


def _timed(call: _Call, handler: Handler) -> Handler:
    kw = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary or handler.stream_unary:
        unary = cast(Callable[..., Awaitable[Any]], handler.unary_unary or handler.stream_unary)

        async def unary_response(request: Any, context: Context) -> Any:
            GRPC_STARTED.labels(**call.labels()).inc()
            started = time.perf_counter()
            try:
                response = await unary(request, context)
            except BaseException as exc:
                _observe(call, started, context, exc)
                raise
            _observe(call, started, context, None)
            return response

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary_response, **kw)
        return grpc.stream_unary_rpc_method_handler(unary_response, **kw)

    streamer = cast(
        Callable[..., AsyncIterator[Any] | Awaitable[None]],
        handler.unary_stream or handler.stream_stream,
    )

    async def stream_response(request: Any, context: Context) -> AsyncIterator[Any]:
        GRPC_STARTED.labels(**call.labels()).inc()
        started = time.perf_counter()
        try:
            produced = streamer(request, context)
            if inspect.isawaitable(produced):  # writes with context.write (the health Watch)
                await produced
            else:
                async for item in produced:
                    yield item
        except BaseException as exc:
            _observe(call, started, context, exc)
            raise
        _observe(call, started, context, None)

    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_response, **kw)
    return grpc.stream_stream_rpc_method_handler(stream_response, **kw)


class MetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Records ``grpc_server_started_total``, ``grpc_server_handling_seconds`` and
    ``grpc_server_handled_total``."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:  # an unknown method: gRPC answers UNIMPLEMENTED itself
            return handler
        return _timed(_Call.of(handler_call_details.method, handler), handler)
