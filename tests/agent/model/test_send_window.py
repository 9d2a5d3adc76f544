"""A send window is open on its weekdays between its local times, in its own zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mailfleet.agent.model.send_window import SendWindow

WINDOW = SendWindow((1, 2, 3, 4, 5), 8 * 60, 20 * 60, "Europe/Berlin")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        (datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN), True),  # Monday, the first minute
        (datetime(2026, 3, 2, 7, 59, tzinfo=BERLIN), False),
        (datetime(2026, 3, 2, 19, 59, tzinfo=BERLIN), True),
        (datetime(2026, 3, 2, 20, 0, tzinfo=BERLIN), False),  # the end is not included
        (datetime(2026, 3, 7, 12, 0, tzinfo=BERLIN), False),  # Saturday
        # Summer time: 08:30 in Berlin is 06:30 UTC, inside although UTC says otherwise.
        (datetime(2026, 7, 6, 8, 30, tzinfo=BERLIN), True),
        (datetime(2026, 7, 6, 21, 30, tzinfo=ZoneInfo("UTC")), False),  # 23:30 in Berlin
    ],
)
def test_open_in_its_own_zone(local: datetime, is_open: bool) -> None:
    assert WINDOW.is_open(local.timestamp()) is is_open
