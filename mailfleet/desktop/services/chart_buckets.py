"""Honest chart data, without Qt: counts in zero-filled buckets of one width, and axis ticks
that land on whole buckets and whole numbers.

A chart that joins the counts it has draws a slope across minutes in which nothing happened;
every bucket here has a count, zero when nothing happened, and the chart draws each one as a
flat step or a bar.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

# Widths a long campaign is grouped into, so a chart never has more than MAX_BUCKETS bars.
WIDTHS_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
MAX_BUCKETS = 360
# Steps (in buckets) between two labels on the time axis.
TICK_STEPS = (1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 240, 360)


@dataclass(frozen=True)
class Buckets:
    """Per kind, one count per bucket from ``start``, each ``width`` long, none missing."""

    start: datetime
    width: timedelta
    counts: dict[str, list[int]]

    @property
    def size(self) -> int:
        """How many buckets each kind has."""
        return len(next(iter(self.counts.values()), []))

    def starts(self) -> list[datetime]:
        """Each bucket's start."""
        return [self.start + i * self.width for i in range(self.size)]

    @property
    def top(self) -> int:
        """The highest count of any kind in any bucket (0 on an empty chart)."""
        return max((n for values in self.counts.values() for n in values), default=0)


def zero_filled(
    points: Mapping[str, Iterable[tuple[datetime, int]]],
    kinds: Iterable[str],
    width: timedelta = timedelta(minutes=1),
    max_buckets: int = MAX_BUCKETS,
) -> Buckets | None:
    """``points`` (kind → [(bucket start, count)]) as zero-filled buckets for each of
    ``kinds``, from the bucket before the first event (so each line rises from zero) to the
    last. Buckets are ``width`` wide, or wider (a width of ``WIDTHS_MINUTES`` that is a
    multiple of it) when more than ``max_buckets`` would be needed. None when there are no
    events at all."""
    kinds = tuple(kinds)
    items = [(kind, when, n) for kind, values in points.items() for when, n in values]
    if not items:
        return None
    first = min(when for _, when, _ in items)
    last = max(when for _, when, _ in items)
    width = _wide_enough(first, last, width, max_buckets)
    origin = _floor(first, width) - width
    size = (last - origin) // width + 1
    counts = {kind: [0] * size for kind in kinds}
    for kind, when, n in items:
        if kind in counts:
            counts[kind][(when - origin) // width] += n
    return Buckets(origin, width, counts)


def _wide_enough(first: datetime, last: datetime, width: timedelta, most: int) -> timedelta:
    for minutes in WIDTHS_MINUTES:
        candidate = timedelta(minutes=minutes)
        if candidate < width or candidate % width:
            continue
        if (last - first) // candidate + 2 <= most:
            return candidate
    return max(width, timedelta(minutes=WIDTHS_MINUTES[-1]))


def _floor(moment: datetime, width: timedelta) -> datetime:
    """The start of the bucket ``moment`` falls in, buckets counted from midnight."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((moment - midnight) // width) * width


@dataclass(frozen=True)
class ValueScale:
    """A count axis from 0 to ``top`` with a label every ``step``: whole numbers, none twice."""

    top: int
    step: int

    @property
    def ticks(self) -> int:
        """How many labels the axis shows, 0 included."""
        return self.top // self.step + 1


def value_scale(highest: int, max_ticks: int = 6) -> ValueScale:
    """The smallest axis of 1, 2 or 5 times a power of ten steps that holds ``highest`` in at most
    ``max_ticks`` labels (0 … 1 for an empty chart)."""
    highest = max(highest, 1)
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            top = math.ceil(highest / step) * step
            if top // step + 1 <= max_ticks:
                return ValueScale(top, step)
        magnitude *= 10


@dataclass(frozen=True)
class TimeScale:
    """A time axis over ``buckets`` buckets (padded to a whole number of label steps), with
    ``ticks`` labels each on a bucket boundary."""

    buckets: int
    ticks: int


def time_scale(buckets: int, max_ticks: int = 7) -> TimeScale:
    """Labels on whole buckets, at most ``max_ticks`` of them, so no two read the same."""
    buckets = max(buckets, 1)
    for step in TICK_STEPS:
        spans = math.ceil(buckets / step)
        if spans + 1 <= max_ticks:
            return TimeScale(spans * step, spans + 1)
    step = math.ceil(buckets / (max_ticks - 1))
    return TimeScale(step * (max_ticks - 1), max_ticks)


def width_text(width: timedelta) -> str:
    """ "minute", "5 minutes", "hour", "day": what one bucket is, for the chart's title."""
    minutes = int(width.total_seconds() // 60)
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        if minutes % size == 0:
            n = minutes // size
            return unit if n == 1 else f"{n} {unit}s"
    return f"{minutes} minutes"
