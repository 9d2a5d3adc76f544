"""The time automations run by: the system's, or in tests a time the test moves.

``MAILFLEET_TEST_CLOCK=/path/file`` makes an agent's automations run that many seconds ahead
of the real time (the file holds the number, as text; read at each runner pass), so a test
moves days ahead without sleeping. Ahead, never behind: what enrols contacts (a signup, an
event) stamps them with the real time, which is then already due. Only tests set it; unset,
the clock is ``time.time``.
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
    """The real time plus the offset a test wrote into a file (none while it is missing)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def now(self) -> float:
        """The real time plus the file's number, or the real time while it is missing or
        half-written."""
        try:
            ahead = float(self._path.read_text())
        except (OSError, ValueError):
            ahead = 0.0
        return time.time() + ahead


def from_environment() -> Clock:
    """The test clock the environment names, else the system's."""
    path = os.environ.get(VARIABLE, "")
    return FileClock(Path(path)) if path else SystemClock()
