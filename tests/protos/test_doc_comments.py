"""Every service and RPC in protos/mailfleet/v1/*.proto has a doc comment (reflection, buf and
the generated stubs show it to integrators)."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

_ROOT = Path(__file__).resolve().parents[2] / "protos"
# Paths into a FileDescriptorProto (descriptor.proto's field numbers): service, its methods.
_SERVICE, _METHOD = 6, 2


def _files(tmp_path: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    out = tmp_path / "set.pb"
    protos = sorted(str(p.relative_to(_ROOT)) for p in (_ROOT / "mailfleet" / "v1").glob("*.proto"))
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    args = ["protoc", f"-I{_ROOT}", f"-I{well_known}", "--include_source_info",
            f"--descriptor_set_out={out}", *protos]  # fmt: skip
    assert protoc.main(args) == 0
    return list(descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file)


def test_every_service_and_rpc_has_a_doc_comment(tmp_path: Path) -> None:
    missing = []
    for f in _files(tmp_path):
        docs = {
            tuple(loc.path) for loc in f.source_code_info.location if loc.leading_comments.strip()
        }
        for i, service in enumerate(f.service):
            if (_SERVICE, i) not in docs:
                missing.append(f"{f.name}: service {service.name}")
            for j, method in enumerate(service.method):
                if (_SERVICE, i, _METHOD, j) not in docs:
                    missing.append(f"{f.name}: rpc {service.name}.{method.name}")
    assert not missing, "no doc comment (a // line right above it) on:\n" + "\n".join(missing)
