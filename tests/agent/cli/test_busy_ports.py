"""``mailfleet-agent serve`` with one of its ports already taken: one line naming the busy
address, a non-zero exit, no traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from mailfleet.agent.client.localagent import free_port
from tests.peers.agent import AgentProcess, agent_command


def _serve_beside_a_listener(agent: AgentProcess, port: int) -> subprocess.CompletedProcess[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        # As servers bind: the port free_port left in TIME_WAIT is available to it.
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        return subprocess.run(
            [*agent_command(), "serve", "--config", str(agent.config)],
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.mark.parametrize("which", ["gRPC", "HTTP", "intake"])
def test_a_busy_port_is_one_line_naming_it(tmp_path: Path, which: str) -> None:
    intake_port = free_port()
    agent = AgentProcess(
        tmp_path / "agent",
        extra_config=(
            "[intake]\n[[intake.listeners]]\n"
            f'address = "127.0.0.1"\nport = {intake_port}\ntls = "none"\n'
            "auth_required = false\n"
        ),
    )
    port = {"gRPC": agent.port, "HTTP": agent.http_port, "intake": intake_port}[which]
    done = _serve_beside_a_listener(agent, port)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("mailfleet-agent:")]
    assert errors == [errors[0]], done.stderr
    assert errors[0].endswith(f" on 127.0.0.1:{port}: address already in use")
    assert which in errors[0]
    assert done.stderr.strip().splitlines()[-1] == errors[0]
