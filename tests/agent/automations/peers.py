"""What the tests of automations on a real agent share: the clock file the agent's
automations read (MAILFLEET_TEST_CLOCK) and the subjects an SMTP sink received."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from mailfleet.agent.automations.clock import VARIABLE
from tests.peers.smtp import SmtpSink


def moved_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file agents started after this read their automations' offset from (seconds ahead
    of the real time), at 0."""
    path = tmp_path / "clock"
    path.write_text("0")
    monkeypatch.setenv(VARIABLE, str(path))
    return path


def subjects(sink: SmtpSink) -> list[tuple[str, str]]:
    """(recipient, subject) of every message the sink received, in arrival order."""
    found = []
    for r in sink.received:
        parsed = email.message_from_bytes(r.data, policy=email.policy.default)
        found.append((r.rcpt_to[0], str(parsed["Subject"])))
    return found
