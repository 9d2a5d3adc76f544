"""The time automations run by: the system's, or in tests a time the test moves.

``MAILFLEET_TEST_CLOCK=/path/file`` makes an agent read the current time (seconds since the
epoch, as text) from that file at each runner pass, so a test can move days ahead without
sleeping. Only tests set it; unset, the clock is ``time.time``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol

VARIABLE = "MAILFLEET_TEST_CLOCK"


class Clock(Protocol):
    """Where the runner and the triggers read the time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> float:
        """``time.time()``."""
        return time.time()


class FileClock:
    """The time a test wrote into a file; the real time until it has written one."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def now(self) -> float:
        """The file's number, or the real time while it is missing or half-written."""
        try:
            return float(self._path.read_text())
        except (OSError, ValueError):
            return time.time()


def from_environment() -> Clock:
    """The test clock the environment names, else the system's."""
    path = os.environ.get(VARIABLE, "")
    return FileClock(Path(path)) if path else SystemClock()
