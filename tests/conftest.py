"""Fixtures shared by every test: real agents on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailfleet.agent.delivery.clock import VARIABLE as CLOCK_VARIABLE
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.dns import local_dns

__all__ = ["local_dns"]  # a fixture for every test: the local DNS answer source


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[AgentProcess]:
    """A fresh, running agent with its own data directory."""
    proc = AgentProcess(tmp_path / "agent")
    proc.start()
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture
def admin(agent_process: AgentProcess) -> Stubs:
    """Stubs of the fresh agent, authenticated with its initial admin key."""
    return agent_process.stubs()


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Callable[[str], AgentProcess]]:
    """Starts agents with extra TOML configuration (routes, delivery settings)."""
    started: list[AgentProcess] = []

    def make(extra_config: str) -> AgentProcess:
        proc = AgentProcess(tmp_path / f"agent{len(started)}", extra_config=extra_config)
        started.append(proc)
        proc.start()
        return proc

    try:
        yield make
    finally:
        for proc in started:
            proc.close()


@pytest.fixture(scope="module")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """One running agent for a module's tests that do not disturb each other."""
    proc = AgentProcess(tmp_path_factory.mktemp("shared") / "agent")
    proc.start()
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file of seconds the agents started by this test add to their campaign clock
    (A/B deadlines, send windows): write it to move them ahead without sleeping."""
    path = tmp_path / "clock-offset"
    path.write_text("0")
    monkeypatch.setenv(CLOCK_VARIABLE, str(path))
    return path
