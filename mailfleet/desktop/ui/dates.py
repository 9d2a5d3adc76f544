"""Dates and times as the reader expects them: in the system locale's format, in the local
time zone.

Every timestamp the desktop keeps is UTC (``mailfleet.desktop.db.types.UTCDateTime``); this is the
one place that turns one into text. Under the C locale (no locale configured: LANG=C, many
servers and containers) Qt's own short format is "4 12 2026 04:17", which reads as neither a
local date nor ISO 8601, so that locale gets ISO 8601 (2026-12-04 04:17) instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from mailfleet.desktop.ui.qt import QDate, QDateTime, QLocale, QTimeZone

ISO_DATE = "yyyy-MM-dd"
ISO_TIME = "HH:mm"


def _formats() -> tuple[str, str]:
    """(date, time) formats of the locale in use (the system's unless the app set another)."""
    locale = QLocale()
    if locale.language() == QLocale.Language.C:
        return ISO_DATE, ISO_TIME
    return (
        locale.dateFormat(QLocale.FormatType.ShortFormat),
        locale.timeFormat(QLocale.FormatType.ShortFormat),
    )


def _with_seconds(time_format: str) -> str:
    return time_format if "s" in time_format else time_format.replace("mm", "mm:ss", 1)


def date_time_format(seconds: bool = False) -> str:
    """The date-and-time format, for a ``QDateTimeEdit``'s display format as well."""
    day, time = _formats()
    return f"{day} {_with_seconds(time) if seconds else time}"


def time_format() -> str:
    """The time-of-day format, for a chart's time axis as well."""
    return _formats()[1]


def local(moment: datetime, zone: QTimeZone | None = None) -> QDateTime:
    """``moment`` (aware; naive means UTC) in ``zone``, the local time zone by default."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    shown = QDateTime.fromMSecsSinceEpoch(int(aware.timestamp() * 1000))
    return shown.toTimeZone(zone) if zone is not None else shown.toLocalTime()


def show(moment: datetime | None, *, seconds: bool = False, zone: QTimeZone | None = None) -> str:
    """A date and time, e.g. "04/12/2026 05:17" (en_GB, Paris); "" for None."""
    if moment is None:
        return ""
    return QLocale().toString(local(moment, zone), date_time_format(seconds))


def show_time(moment: datetime, *, seconds: bool = False, zone: QTimeZone | None = None) -> str:
    """Only the time of day, e.g. "05:17:02"."""
    time = _formats()[1]
    return QLocale().toString(local(moment, zone).time(), _with_seconds(time) if seconds else time)


def show_date(moment: datetime, zone: QTimeZone | None = None) -> str:
    """Only the local date of ``moment``, e.g. "04/12/2026"."""
    return QLocale().toString(local(moment, zone).date(), _formats()[0])


def show_day(day: date) -> str:
    """A calendar day as it is (a daily total's day: no zone to convert), e.g. "04/12/2026"."""
    return QLocale().toString(QDate(day.year, day.month, day.day), _formats()[0])


def local_zone_id() -> str:
    """The IANA name of the system's time zone, e.g. "Europe/Paris"."""
    return bytes(QTimeZone.systemTimeZoneId().data()).decode()



def show_short_day(day: date) -> str:
    """A day without its year, for a chart's bars: "7 Dec" (the month in the locale's words)."""
    return QLocale().toString(QDate(day.year, day.month, day.day), "d MMM")


def show_month(day: date) -> str:
    """The month ``day`` is in, e.g. "Dec 2026" (the month in the locale's words)."""
    return QLocale().toString(QDate(day.year, day.month, 1), "MMM yyyy")
