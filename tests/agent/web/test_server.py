"""The agent's HTTP server, running inside a real agent process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.agent import AgentProcess


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback test URL
            return int(reply.status), bytes(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_healthz_answers_while_the_agent_serves(shared_agent: AgentProcess) -> None:
    status, body = _get(f"{shared_agent.http_url}/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "serving"}


def test_unknown_path_is_404(shared_agent: AgentProcess) -> None:
    status, _ = _get(f"{shared_agent.http_url}/no-such-thing")
    assert status == 404


@pytest.fixture
def strict_agent(tmp_path: Path) -> Iterator[AgentProcess]:
    proc = AgentProcess(tmp_path / "agent", http_config="rate_limit_per_minute = 5")
    proc.start()
    yield proc
    proc.close()


def test_a_client_over_its_budget_gets_429(strict_agent: AgentProcess) -> None:
    codes = [_get(f"{strict_agent.http_url}/healthz")[0] for _ in range(8)]
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429] * 3


def test_a_taken_http_port_is_a_clear_start_up_error(
    tmp_path: Path, shared_agent: AgentProcess
) -> None:
    clash = AgentProcess(tmp_path / "clash")
    clash.config.write_text(
        clash.config.read_text().replace(
            f"127.0.0.1:{clash.http_port}", f"127.0.0.1:{shared_agent.http_port}"
        )
    )
    with pytest.raises(RuntimeError, match="cannot listen for HTTP"):
        clash.start()
