"""`make demo` delivers its campaign to the sink, each recipient once, and exits 0."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_runs_to_a_clean_finish() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailfleet.agent.demo"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10003 rows = 10000 accepted + 3 rejected" in result.stdout
    assert "CAMPAIGN_STATE_COMPLETED, 10000 delivered of 10000" in result.stdout
    assert "10001 messages for 10001 recipients, 10001 DKIM-signed" in result.stdout
    assert "check: every recipient received exactly one message" in result.stdout
    assert "agent stopped cleanly" in result.stdout
