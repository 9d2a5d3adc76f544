"""Send windows on the desktop and the wizard's finish estimate: only the window's open
stretches count, and an A/B test's rest waits for its decision."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from mailfleet.desktop.services.ab_tests import AbPlan, Rule, Variant, Vary
from mailfleet.desktop.services.send_plan import estimate_minutes, finish_at
from mailfleet.desktop.services.send_windows import SendWindow

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = SendWindow((1, 2, 3, 4, 5), 8 * 60, 20 * 60, "Europe/Berlin")
# 2026-12-12 is a Saturday, 2026-12-14 a Monday.
SATURDAY_NOON = datetime(2026, 12, 12, 12, 0, tzinfo=BERLIN)


def test_a_window_is_kept_as_json_and_said_in_words() -> None:
    assert SendWindow.from_json(OFFICE.to_json()) == OFFICE
    assert SendWindow.from_json(None) is None
    assert OFFICE.text() == "weekdays 08:00-20:00 (Europe/Berlin)"
    assert SendWindow((7, 1), 540, 1440, "UTC").text() == "Mon, Sun 09:00-24:00 (UTC)"
    assert SendWindow(tuple(range(1, 8)), 0, 60, "UTC").text() == "every day 00:00-01:00 (UTC)"


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        (SendWindow((), 0, 60, "UTC"), "choose at least one day to send on"),
        (SendWindow((1,), 600, 600, "UTC"), "the window must end after it starts, on the same day"),
        (SendWindow((1,), 0, 60, "Mars/Olympus"), "Mars/Olympus is not a time zone"),
        (OFFICE, None),
    ],
)
def test_what_the_agents_would_refuse_is_said_first(
    window: SendWindow, problem: str | None
) -> None:
    assert window.problem() == problem


def test_only_the_windows_hours_count_towards_the_finish() -> None:
    # Started on a Saturday: nothing goes before Monday 08:00.
    assert OFFICE.finish(SATURDAY_NOON, 60) == datetime(2026, 12, 14, 9, 0, tzinfo=BERLIN)
    # Started inside it, Monday 19:30: 30 minutes that day, the other 30 on Tuesday.
    monday = datetime(2026, 12, 14, 19, 30, tzinfo=BERLIN)
    assert OFFICE.finish(monday, 60) == datetime(2026, 12, 15, 8, 30, tzinfo=BERLIN)
    # Three whole days of sending: Monday, Tuesday, Wednesday from 08:00 to 20:00.
    assert OFFICE.finish(SATURDAY_NOON, 36 * 60) == datetime(2026, 12, 16, 20, 0, tzinfo=BERLIN)
    # The answer is in the zone the start was given in.
    utc = OFFICE.finish(SATURDAY_NOON.astimezone(UTC), 60)
    assert utc is not None and utc.tzinfo is UTC
    narrow = SendWindow((1,), 0, 1, "UTC")
    assert narrow.finish(SATURDAY_NOON, 60 * 24 * 7) is None  # more than a year away


def test_the_estimate_waits_for_an_ab_tests_winner() -> None:
    start = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    assert estimate_minutes(100, [5.0, 5.0], 0) == 10
    assert estimate_minutes(100, [50.0], 20) == 5  # the throttle caps the agents' rate
    assert estimate_minutes(100, [], 0) is None
    assert finish_at(start, 100, 0.1) == datetime(2026, 12, 14, 8, 10, tzinfo=UTC)
    variants = (Variant(subject="A"), Variant(subject="B"))
    test = AbPlan(Vary.SUBJECT, variants, 20, Rule.CLICKS, 4)
    # 20 go in 2 minutes; the other 80 (8 minutes) once the winner is picked at 12:00.
    assert finish_at(start, 100, 0.1, ab_test=test) == datetime(2026, 12, 14, 12, 8, tzinfo=UTC)
    manual = AbPlan(Vary.SUBJECT, variants, 20, Rule.MANUAL, 4)
    assert finish_at(start, 100, 0.1, ab_test=manual) == datetime(2026, 12, 14, 8, 2, tzinfo=UTC)
    # In a window that closes at 12:00 UTC the rest goes the next day.
    window = SendWindow((1, 2, 3, 4, 5), 8 * 60, 12 * 60, "UTC")
    assert finish_at(start, 100, 0.1, window, test) == datetime(2026, 12, 15, 8, 8, tzinfo=UTC)
