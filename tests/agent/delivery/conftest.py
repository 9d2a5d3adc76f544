"""What the delivery tests share: the clock file that moves an agent's campaign clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.agent.delivery.clock import VARIABLE


@pytest.fixture
def clock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file of seconds the agents started by this test add to their campaign clock
    (A/B deadlines, send windows)."""
    path = tmp_path / "clock-offset"
    path.write_text("0")
    monkeypatch.setenv(VARIABLE, str(path))
    return path
