"""The scripts in examples/ run against a real agent (its capture route: nothing leaves)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from agent.identity.pairing import Pairing
from tests.peers.agent import AgentProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(pairing: Pairing, name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env={**os.environ, "MAILFLEET_PAIRING": str(pairing)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_the_examples_send_run_a_campaign_and_follow_events(
    agent_process: AgentProcess, tmp_path: Path
) -> None:
    p = agent_process.pairing
    first = example(p, "send_transactional.py", "buyer@example.com", "--order", "7", cwd=tmp_path)
    assert first.stdout.startswith("message ") and first.stdout.strip().endswith(" queued")
    again = example(p, "send_transactional.py", "buyer@example.com", "--order", "7", cwd=tmp_path)
    assert again.stdout.split()[1] == first.stdout.split()[1]
    assert "already queued" in again.stdout

    people = tmp_path / "people.csv"
    people.write_text(
        "email,first_name\n"
        + "".join(f"p{i}@example.com,Person{i}\n" for i in range(5))
        + "not-an-address,Broken\n"
    )
    run = example(p, "campaign_from_csv.py", str(people), cwd=tmp_path)
    assert "5 of 6 recipients" in run.stdout
    assert "row 6 <not-an-address> refused" in run.stdout
    assert run.stdout.strip().endswith("completed: 5 delivered, 0 bounced, 0 failed")

    cursor = tmp_path / "events.seq"
    seen = example(p, "follow_events.py", "--once", "--cursor", str(cursor), cwd=tmp_path)
    lines = seen.stdout.splitlines()
    assert sum(" message_delivered " in line for line in lines) == 6
    assert cursor.read_text() == lines[-1].split()[0]
    nothing_new = example(p, "follow_events.py", "--once", "--cursor", str(cursor), cwd=tmp_path)
    assert nothing_new.stdout == ""

    # Following: a message sent while it runs shows up.
    follower = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "follow_events.py"), "--cursor", str(cursor)],
        env={**os.environ, "MAILFLEET_PAIRING": str(p)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        example(p, "send_transactional.py", "late@example.com", "--order", "8", cwd=tmp_path)
        deadline = time.monotonic() + 30
        assert follower.stdout is not None
        while time.monotonic() < deadline:
            line = follower.stdout.readline()
            if "message_delivered late@example.com" in line:
                break
        else:
            raise AssertionError("the follower never printed the new delivery")
    finally:
        follower.terminate()
        follower.wait(10)
