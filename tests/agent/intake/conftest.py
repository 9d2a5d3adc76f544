"""Fixtures of the intake tests: a sink the agent relays to, and the agent itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agent.intake.peer import IntakeAgent
from tests.peers.smtp import SmtpSink


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    """The relay every test agent delivers to."""
    with SmtpSink() as s:
        yield s


@pytest.fixture(scope="module")
def intake(sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntakeAgent]:
    """One agent with every kind of listener for a module's tests."""
    agent = IntakeAgent(tmp_path_factory.mktemp("intake") / "agent", sink.port)
    try:
        yield agent
    finally:
        agent.close()
