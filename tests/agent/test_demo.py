"""`make demo` runs end to end and exits 0."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_runs_to_a_clean_finish() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent.demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10003 rows = 10000 accepted + 3 rejected" in result.stdout
    assert "tally: 10000 messages" in result.stdout
    assert "agent stopped cleanly" in result.stdout
