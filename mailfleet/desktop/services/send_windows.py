"""A campaign's send window as the desktop keeps it, and what it does to the finish estimate.

Qt-free. A window is the weekdays and the hours a campaign sends in, in one IANA time zone
("weekdays 08:00-20:00, Europe/Berlin"); the agents hold its messages outside it
(docs/sending.md). The estimate walks the window's open stretches from the start until the
sending time the agents' rate needs has been spent inside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS = (1, 2, 3, 4, 5)
# The estimate gives up beyond this many days: a window that narrow is said to be so.
HORIZON_DAYS = 366


@dataclass(frozen=True)
class SendWindow:
    """Days (ISO: 1 Monday … 7 Sunday) and minutes after local midnight, in ``time_zone``."""

    weekdays: tuple[int, ...]
    start_minute: int
    end_minute: int
    time_zone: str

    def problem(self) -> str | None:
        """Why the agents would refuse this window, in words; None when it is fine."""
        if not self.weekdays or not set(self.weekdays) <= set(range(1, 8)):
            return "choose at least one day to send on"
        if not 0 <= self.start_minute < self.end_minute <= 24 * 60:
            return "the window must end after it starts, on the same day"
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return f"{self.time_zone} is not a time zone"
        return None

    def to_json(self) -> dict[str, Any]:
        """The form kept in ``Campaign.send_window``."""
        return {
            "weekdays": list(self.weekdays),
            "start_minute": self.start_minute,
            "end_minute": self.end_minute,
            "time_zone": self.time_zone,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SendWindow | None:
        """The window kept in ``Campaign.send_window``; None: any hour."""
        if not data:
            return None
        return cls(
            tuple(int(d) for d in data["weekdays"]),
            int(data["start_minute"]),
            int(data["end_minute"]),
            str(data["time_zone"]),
        )

    def text(self) -> str:
        """ "weekdays 08:00-20:00 (Europe/Berlin)", "Mon, Sat 09:00-12:00 (UTC)"."""
        days = tuple(sorted(set(self.weekdays)))
        if days == WEEKDAYS:
            named = "weekdays"
        elif days == tuple(range(1, 8)):
            named = "every day"
        else:
            named = ", ".join(DAY_NAMES[d - 1] for d in days)
        return f"{named} {_clock(self.start_minute)}-{_clock(self.end_minute)} ({self.time_zone})"

    def finish(self, start: datetime, minutes: float) -> datetime | None:
        """When ``minutes`` of sending that begins at ``start`` (aware) ends, counting only
        the time inside the window; None when it ends more than a year out."""
        zone = ZoneInfo(self.time_zone)
        left = timedelta(minutes=minutes)
        local = start.astimezone(zone)
        for offset in range(HORIZON_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            if day.isoweekday() not in self.weekdays:
                continue
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            opens = max(midnight + timedelta(minutes=self.start_minute), local)
            closes = midnight + timedelta(minutes=self.end_minute)
            if opens >= closes:
                continue
            if opens + left <= closes:
                return (opens + left).astimezone(start.tzinfo)
            left -= closes - opens
        return None


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
