"""A gRPC server interceptor that times every call and counts its status code.

It sits in front of the auth interceptor, so refused calls (UNAUTHENTICATED) are counted too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc

from agent.telemetry.metrics import GRPC_HANDLED, GRPC_SECONDS

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


def _observe(method: str, started: float, context: Context, failed: BaseException | None) -> None:
    GRPC_SECONDS.labels(method=method).observe(time.perf_counter() - started)
    GRPC_HANDLED.labels(method=method, code=_code(context, failed)).inc()


def _timed(method: str, handler: Handler) -> Handler:
    kw = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary or handler.stream_unary:
        unary = cast(Callable[..., Awaitable[Any]], handler.unary_unary or handler.stream_unary)

        async def unary_response(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            try:
                response = await unary(request, context)
            except BaseException as exc:
                _observe(method, started, context, exc)
                raise
            _observe(method, started, context, None)
            return response

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary_response, **kw)
        return grpc.stream_unary_rpc_method_handler(unary_response, **kw)

    streamer = cast(
        Callable[..., AsyncIterator[Any]], handler.unary_stream or handler.stream_stream
    )

    async def stream_response(request: Any, context: Context) -> AsyncIterator[Any]:
        started = time.perf_counter()
        try:
            async for item in streamer(request, context):
                yield item
        except BaseException as exc:
            _observe(method, started, context, exc)
            raise
        _observe(method, started, context, None)

    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_response, **kw)
    return grpc.stream_stream_rpc_method_handler(stream_response, **kw)


class MetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Records ``mailfleet_grpc_server_handling_seconds`` and ``…_handled_total``."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:  # an unknown method: gRPC answers UNIMPLEMENTED itself
            return handler
        return _timed(handler_call_details.method, handler)
