"""A campaign's send window: the days and hours it may send in, in one time zone. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SendWindow:
    """Weekdays (1 Monday … 7 Sunday, ISO 8601) and local minutes after midnight
    (``start_minute`` included, ``end_minute`` not) in the IANA zone ``time_zone``."""

    weekdays: tuple[int, ...]
    start_minute: int
    end_minute: int
    time_zone: str

    def is_open(self, now: float) -> bool:
        """Whether the window is open at the Unix time ``now``."""
        local = datetime.fromtimestamp(now, ZoneInfo(self.time_zone))
        minute = local.hour * 60 + local.minute
        return local.isoweekday() in self.weekdays and self.start_minute <= minute < self.end_minute
