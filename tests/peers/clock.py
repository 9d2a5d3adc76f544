"""Moving the agents' campaign clock in a test (``MAILFLEET_TEST_CLOCK_FILE``, the
``clock_file`` fixture): to a given local time, never by sleeping."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def coming(weekday: int, hour: int, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    """The coming ISO ``weekday`` (not today) at ``hour:minute`` in ``zone``."""
    today = datetime.now(zone).date()
    day = today + timedelta(days=(weekday - today.isoweekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def move_clock(clock_file: Path, to: datetime) -> None:
    """Set the agents' clock to ``to`` (it runs on from there)."""
    clock_file.write_text(str(to.timestamp() - time.time()))
