"""Dates on screen: the system locale's format in the local time zone, ISO 8601 under the C
locale; one helper for every page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.qt import QLocale, QTimeZone

MOMENT = datetime(2026, 12, 4, 4, 17, 9, tzinfo=UTC)
PARIS = QTimeZone(b"Europe/Paris")


@pytest.fixture
def locale() -> Iterator[None]:
    before = QLocale()
    yield
    QLocale.setDefault(before)


@pytest.mark.usefixtures("locale")
def test_a_set_locale_gives_its_own_format_in_the_chosen_zone() -> None:
    QLocale.setDefault(QLocale("en_GB"))
    assert dates.show(MOMENT, zone=PARIS) == "04/12/2026 05:17"
    assert dates.show(MOMENT, seconds=True, zone=PARIS) == "04/12/2026 05:17:09"
    assert dates.show_date(MOMENT, zone=QTimeZone(b"America/Los_Angeles")) == "03/12/2026"
    assert dates.show_time(MOMENT, seconds=True, zone=PARIS) == "05:17:09"
    QLocale.setDefault(QLocale("de_DE"))
    assert dates.show(MOMENT, zone=PARIS) == "04.12.26 05:17"
    assert dates.date_time_format() == "dd.MM.yy HH:mm"
    QLocale.setDefault(QLocale("en_US"))
    assert dates.time_format() == QLocale("en_US").timeFormat(QLocale.FormatType.ShortFormat)
    assert dates.show_time(MOMENT, zone=PARIS).replace("\u202f", " ") == "5:17 AM"


@pytest.mark.usefixtures("locale")
def test_the_c_locale_gives_iso_dates_not_d_mm_yyyy() -> None:
    QLocale.setDefault(QLocale.c())
    assert dates.show(MOMENT, zone=PARIS) == "2026-12-04 05:17"
    assert dates.show_day(date(2026, 12, 4)) == "2026-12-04"
    assert dates.date_time_format() == "yyyy-MM-dd HH:mm"


@pytest.mark.usefixtures("locale")
def test_the_local_zone_is_the_default_and_naive_means_utc() -> None:
    QLocale.setDefault(QLocale("en_GB"))
    local = QTimeZone.systemTimeZone()
    assert dates.show(MOMENT) == dates.show(MOMENT, zone=local)
    assert dates.show(MOMENT.replace(tzinfo=None)) == dates.show(MOMENT)
    assert dates.show(None) == ""
    assert dates.local_zone_id() == bytes(local.id().data()).decode()
