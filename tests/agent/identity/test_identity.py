"""`mailfleet-agent init`, TLS only, certificate pinning, health and reflection."""

from __future__ import annotations

import hashlib
import ssl
import stat
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mailfleet.agent import client
from mailfleet.agent.identity.pairing import Pairing, parse
from mailfleet.v1 import agent_pb2
from tests.peers.agent import AgentProcess, agent_command


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_private_files_and_a_matching_pairing_string(tmp_path: Path) -> None:
    proc = AgentProcess(tmp_path / "data", port=18999)
    data = proc.data_dir
    assert _mode(data) == 0o700
    assert _mode(data / "tls" / "agent.key") == 0o600
    assert _mode(data / "secrets" / "admin.key") == 0o600
    assert _mode(data / "agent.db") == 0o600
    config = (data / "agent.toml").read_text()
    assert config.startswith("# Mailfleet agent configuration.")
    assert 'listen = "127.0.0.1:18999"' in config

    pairing = proc.pairing
    assert (pairing.host, pairing.port) == ("127.0.0.1", 18999)
    der = ssl.PEM_cert_to_DER_cert((data / "tls" / "agent.crt").read_text())
    assert pairing.fingerprint == hashlib.sha256(der).hexdigest()
    assert pairing.api_key.startswith("mfk_")
    assert parse(str(pairing)) == pairing


def test_init_twice_overwrites_nothing(tmp_path: Path) -> None:
    proc = AgentProcess(tmp_path / "data")
    data = proc.data_dir
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    again = subprocess.run(
        [*agent_command(), "init", "--data-dir", str(data), "--grpc-listen", "127.0.0.1:1"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert parse(again.stdout.strip()) == proc.pairing
    assert "already initialised" in again.stderr
    after = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    assert after == before


def test_serve_with_a_broken_config_fails_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('data_dir = "."\n[grpc]\nlisten = "nonsense"\n')
    result = subprocess.run(
        [*agent_command(), "serve", "--config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "grpc.listen" in result.stderr and "HOST:PORT" in result.stderr


def test_plaintext_connections_are_refused(agent_process: AgentProcess) -> None:
    with (
        grpc.insecure_channel(agent_process.pairing.target) as ch,
        pytest.raises(grpc.RpcError) as err,
    ):
        health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_other_than_the_pinned_one_is_refused(agent_process: AgentProcess) -> None:
    p = agent_process.pairing
    wrong = Pairing(p.host, p.port, "0" * 64, p.api_key)
    with pytest.raises(client.FingerprintMismatch, match="refusing to connect"):
        client.channel(wrong)


def test_health_and_reflection_answer_stock_clients_without_a_key(
    agent_process: AgentProcess,
) -> None:
    p = agent_process.pairing
    cert = client.fetch_pinned_certificate(p)
    creds = grpc.ssl_channel_credentials(root_certificates=cert)
    with grpc.secure_channel(
        p.target, creds, options=[("grpc.ssl_target_name_override", "mailfleet-agent")]
    ) as ch:
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        replies = list(
            reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
        )
    names = {s.name for s in replies[0].list_services_response.service}
    assert {
        "mailfleet.v1.Campaigns",
        "mailfleet.v1.Transactional",
        "mailfleet.v1.Events",
        "mailfleet.v1.Admin",
        "mailfleet.v1.AgentInfo",
        "mailfleet.v1.Messages",
        "mailfleet.v1.Capture",
        "grpc.health.v1.Health",
    } <= names


def test_get_info_names_the_caller(agent_process: AgentProcess) -> None:
    info = agent_process.stubs().info.GetInfo(agent_pb2.GetInfoRequest(), timeout=5)
    assert info.tenant_name == "default"
    assert info.admin
    assert info.version
    assert len(info.agent_id) == 32


def test_sigterm_stops_the_agent_cleanly(agent_process: AgentProcess) -> None:
    assert agent_process.terminate() == 0
    assert "agent stopped" in agent_process.log()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[delivery]\ndefault_route = "nowhere"\n', "no route named 'nowhere'"),
        (
            '[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nusername = "u"\n',
            "route relay: username given without password_file",
        ),
    ],
)
def test_serve_refuses_routes_that_cannot_work(tmp_path: Path, extra: str, message: str) -> None:
    proc = AgentProcess(tmp_path / "data", extra_config=extra)
    result = subprocess.run(
        [*agent_command(), "serve", "--config", str(proc.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
