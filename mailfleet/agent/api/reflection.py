"""gRPC server reflection under both names stock tools ask for, able to resolve methods.

grpcio-reflection ships only ``grpc.reflection.v1alpha``; ``grpc.reflection.v1`` is the same
messages in another package, so the library's servicer answers both and only the service's
name and its descriptor file differ.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import _async as reflection_aio
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


class _SymbolPool:
    """The default descriptor pool, also finding the file of a method (``pkg.Service.Method``).

    The upb pool's ``FindFileContainingSymbol`` knows messages, fields, enums and services but
    not methods, so ``grpcurl describe mailfleet.v1.Transactional.SendMessage`` got NOT_FOUND.
    """

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        self._pool = pool

    def FindFileContainingSymbol(self, name: str) -> descriptor.FileDescriptor:
        """The file that declares ``name``, a method's included."""
        try:
            return self._pool.FindFileContainingSymbol(name)
        except KeyError:
            return self._pool.FindMethodByName(name).containing_service.file

    def __getattr__(self, name: str) -> object:
        return getattr(self._pool, name)


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """Put the v1 service's file in ``pool`` (v1alpha's, renamed) so it can be described too."""
    try:
        pool.FindFileByName(_V1_FILE)
    except KeyError:
        proto = descriptor_pb2.FileDescriptorProto()
        reflection_pb2.DESCRIPTOR.CopyToProto(proto)
        proto.name = _V1_FILE
        proto.package = "grpc.reflection.v1"
        proto.options.Clear()
        pool.Add(proto)


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serve reflection for ``service_names`` (and itself) as v1 and v1alpha on ``server``."""
    pool = descriptor_pool.Default()
    _add_v1_descriptor(pool)
    names = [*service_names, V1_SERVICE_NAME, reflection.SERVICE_NAME]
    servicer = reflection_aio.ReflectionServicer(names, pool=_SymbolPool(pool))
    handlers = {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
    }
    for service in (V1_SERVICE_NAME, reflection.SERVICE_NAME):
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
