"""The clock A/B deadlines and send windows are judged by, which only the tests move; real
time by default.

``MAILFLEET_TEST_CLOCK_FILE=/path`` names a file holding a number of seconds to add to the
clock, read each time the clock is asked (once a second, and at each claim while a campaign
with a send window runs), so a test can move an agent a day ahead without sleeping through
it. Without the variable it is ``time.time()``, nothing more.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

VARIABLE = "MAILFLEET_TEST_CLOCK_FILE"


def now() -> float:
    """Now, as A/B deadlines and send windows are compared with it."""
    path = os.environ.get(VARIABLE)
    if not path:
        return time.time()
    try:
        return time.time() + float(Path(path).read_text() or 0)
    except (OSError, ValueError):  # half-written by the test: real time this once
        return time.time()
