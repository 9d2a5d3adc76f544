"""Load with Postfix's smtp-source: concurrent sessions, every 250 a queued message."""

from __future__ import annotations

import subprocess

from tests.agent.intake.peer import DOMAIN, IntakeAgent


def test_smtp_source_sessions_each_get_their_message_queued(intake: IntakeAgent) -> None:
    before = len(intake.queued())
    out = subprocess.run(
        [
            "smtp-source", "-s", "10", "-m", "300", "-l", "5120", "-d",
            "-f", f"app@{DOMAIN}", "-t", "load@dest.example", "-M", "load.example",
            f"127.0.0.1:{intake.ports.trusted}",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    queued = intake.queued()[before:]
    assert len(queued) == 300
    assert {m.email for m in queued} == {"load@dest.example"}
