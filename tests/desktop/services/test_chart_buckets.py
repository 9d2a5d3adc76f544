"""Chart data without Qt: zero-filled buckets and axes whose labels are whole and distinct."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailfleet.desktop.services.chart_buckets import (
    MAX_BUCKETS,
    time_scale,
    value_scale,
    width_text,
    zero_filled,
)

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def test_quiet_minutes_are_zero_buckets_not_left_out() -> None:
    timeline = {"delivered": [(minute(0), 5), (minute(3), 2)], "opened": [(minute(1), 1)]}
    buckets = zero_filled(timeline, ("delivered", "opened", "bounced"))
    assert buckets is not None
    assert buckets.width == timedelta(minutes=1)
    # From the minute before the first event (each line starts at zero) to the last.
    assert buckets.starts() == [minute(n) for n in range(-1, 4)]
    assert buckets.counts == {
        "delivered": [0, 5, 0, 0, 2],
        "opened": [0, 0, 1, 0, 0],
        "bounced": [0, 0, 0, 0, 0],
    }
    assert buckets.top == 5


def test_no_events_is_no_chart() -> None:
    assert zero_filled({}, ("delivered",)) is None
    assert zero_filled({"delivered": []}, ("delivered",)) is None


def test_a_long_campaign_gets_wider_buckets_that_keep_every_count() -> None:
    # Two days of one event an hour: 2,880 minutes would be too many bars.
    timeline = {"delivered": [(minute(60 * h), 1) for h in range(48)]}
    buckets = zero_filled(timeline, ("delivered",))
    assert buckets is not None
    assert buckets.size <= MAX_BUCKETS
    assert buckets.width == timedelta(minutes=10)
    assert sum(buckets.counts["delivered"]) == 48
    assert buckets.counts["delivered"].count(0) == buckets.size - 48
    assert width_text(buckets.width) == "10 minutes"


def test_days_are_zero_filled_too() -> None:
    day = timedelta(days=1)
    buckets = zero_filled({"opened": [(T0, 3), (T0 + 3 * day, 1)]}, ("opened",), width=day)
    assert buckets is not None
    assert buckets.width == day
    assert buckets.counts["opened"] == [0, 3, 0, 0, 1]
    assert width_text(day) == "day"


def test_count_axis_labels_are_whole_and_distinct() -> None:
    for highest in (0, 1, 3, 7, 12, 99, 1234, 50_001):
        scale = value_scale(highest)
        assert scale.top >= max(highest, 1)
        assert scale.top % scale.step == 0
        assert 2 <= scale.ticks <= 6
    assert value_scale(0) == value_scale(1)
    assert (value_scale(0).top, value_scale(0).ticks) == (1, 2)  # "0" and "1", not 0 0 0 1 1
    assert (value_scale(7).top, value_scale(7).step) == (8, 2)  # 0 2 4 6 8


def test_time_axis_labels_land_on_whole_buckets() -> None:
    for size in (1, 2, 5, 6, 7, 31, 360):
        scale = time_scale(size)
        assert scale.buckets >= size
        assert scale.buckets % (scale.ticks - 1) == 0
        assert scale.ticks <= 7
    assert (time_scale(3).buckets, time_scale(3).ticks) == (3, 4)
