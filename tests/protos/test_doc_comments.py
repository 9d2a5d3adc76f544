"""Every service, RPC, message, field, oneof, enum and enum value in
protos/mailfleet/v1/*.proto has a doc comment (reflection, buf and the generated stubs show it
to integrators)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

_ROOT = Path(__file__).resolve().parents[2] / "protos"
# Paths into a FileDescriptorProto (descriptor.proto's field numbers).
_FILE_MESSAGE, _FILE_ENUM, _SERVICE = 4, 5, 6
_METHOD = 2  # in ServiceDescriptorProto
_FIELD, _NESTED, _NESTED_ENUM, _ONEOF = 2, 3, 4, 8  # in DescriptorProto
_VALUE = 2  # in EnumDescriptorProto

_Path = tuple[int, ...]


def _files(tmp_path: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    out = tmp_path / "set.pb"
    protos = sorted(str(p.relative_to(_ROOT)) for p in (_ROOT / "mailfleet" / "v1").glob("*.proto"))
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    args = ["protoc", f"-I{_ROOT}", f"-I{well_known}", "--include_source_info",
            f"--descriptor_set_out={out}", *protos]  # fmt: skip
    assert protoc.main(args) == 0
    return list(descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file)


def _enum(enum: descriptor_pb2.EnumDescriptorProto, path: _Path) -> Iterator[tuple[_Path, str]]:
    yield path, f"enum {enum.name}"
    for i, value in enumerate(enum.value):
        yield (*path, _VALUE, i), f"enum value {enum.name}.{value.name}"


def _message(msg: descriptor_pb2.DescriptorProto, path: _Path) -> Iterator[tuple[_Path, str]]:
    if msg.options.map_entry:  # the key/value entry protoc makes for a map field
        return
    yield path, f"message {msg.name}"
    for i, field in enumerate(msg.field):
        yield (*path, _FIELD, i), f"field {msg.name}.{field.name}"
    # A proto3 `optional` field sits in a oneof of its own that protoc makes up (no source).
    synthetic = {field.oneof_index for field in msg.field if field.proto3_optional}
    for i, oneof in enumerate(msg.oneof_decl):
        if i not in synthetic:
            yield (*path, _ONEOF, i), f"oneof {msg.name}.{oneof.name}"
    for i, nested in enumerate(msg.nested_type):
        yield from _message(nested, (*path, _NESTED, i))
    for i, enum in enumerate(msg.enum_type):
        yield from _enum(enum, (*path, _NESTED_ENUM, i))


def _elements(f: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[_Path, str]]:
    """Each documentable element of the file: its source path and what to call it."""
    for i, service in enumerate(f.service):
        yield (_SERVICE, i), f"service {service.name}"
        for j, method in enumerate(service.method):
            yield (_SERVICE, i, _METHOD, j), f"rpc {service.name}.{method.name}"
    for i, msg in enumerate(f.message_type):
        yield from _message(msg, (_FILE_MESSAGE, i))
    for i, enum in enumerate(f.enum_type):
        yield from _enum(enum, (_FILE_ENUM, i))


def test_every_element_has_a_doc_comment(tmp_path: Path) -> None:
    missing = []
    for f in _files(tmp_path):
        docs = {
            tuple(loc.path) for loc in f.source_code_info.location if loc.leading_comments.strip()
        }
        missing += [f"{f.name}: {what}" for path, what in _elements(f) if path not in docs]
    assert not missing, (
        f"{len(missing)} without a doc comment (a // line right above it):\n" + "\n".join(missing)
    )
