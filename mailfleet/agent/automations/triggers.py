"""What enrols contacts: a confirmed signup, an app's event, a date field's anniversary.

Each runs in the caller's transaction (the confirmation's, the event's, the runner's daily
scan), so an entry is stored exactly when what caused it is. An enrolment is due at once; the
runner takes it from there.
"""

from __future__ import annotations

import calendar
import datetime as dt
import sqlite3
from collections.abc import Iterable

from mailfleet.agent.automations.definition import DateTrigger, SignupTrigger, parse
from mailfleet.agent.store import automations as store
from mailfleet.agent.store.feedback import day_of

# Days a date trigger catches up after the agent was down (or paused) at most.
CATCH_UP_DAYS = 31
_EPOCH = dt.date(1970, 1, 1).toordinal()


def on_signup(
    conn: sqlite3.Connection,
    tenant_id: int,
    email: str,
    fields: dict[str, str],
    lists: Iterable[str],
    entry: str,
    now: float,
) -> int:
    """A signup to ``lists`` is confirmed: enrol it in the signup automations it matches;
    ``entry`` names this signup for automations that allow re-entry. Returns how many."""
    store.put_contact(conn, tenant_id, email, fields, now)
    joined = set(lists)
    count = 0
    for automation in store.active_by_trigger(conn, tenant_id, "signup"):
        rules = parse(automation.definition)
        assert isinstance(rules.trigger, SignupTrigger)
        if rules.trigger.lists and not joined.intersection(rules.trigger.lists):
            continue
        key = entry if rules.allow_reentry else ""
        count += store.enrol(conn, automation, email, fields, key, now)
    return count


def on_event(
    conn: sqlite3.Connection,
    tenant_id: int,
    name: str,
    email: str,
    fields: dict[str, str],
    entry: str,
    now: float,
) -> int:
    """An app's event ``name`` about ``email``: enrol it in the automations it triggers, with
    the event's fields; ``entry`` (the event's key) for those that allow re-entry."""
    store.put_contact(conn, tenant_id, email, fields, now)
    count = 0
    for automation in store.active_by_trigger(conn, tenant_id, f"event:{name}"):
        key = entry if parse(automation.definition).allow_reentry else ""
        count += store.enrol(conn, automation, email, fields, key, now)
    return count


def _anniversary(date: dt.date, year: int) -> dt.date:
    if date.month == 2 and date.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)  # 29 February falls on 28 February in other years
    return date.replace(year=year)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def scan_dates(conn: sqlite3.Connection, now: float) -> int:
    """Enrol the contacts whose date field's anniversary plus the offset fell on a day since
    each date automation last looked (today included), once per contact and anniversary
    year. Returns how many were enrolled."""
    today = day_of(now)
    count = 0
    for automation, scanned in store.date_automations(conn, today):
        first = today if scanned is None else max(scanned + 1, today - CATCH_UP_DAYS)
        window = (dt.date.fromordinal(_EPOCH + first), dt.date.fromordinal(_EPOCH + today))
        rules = parse(automation.definition)
        assert isinstance(rules.trigger, DateTrigger)
        offset = dt.timedelta(days=rules.trigger.offset_days)
        for contact in store.contacts_with_field(conn, automation.tenant_id, rules.trigger.field):
            date = _date(contact.fields.get(rules.trigger.field, ""))
            if date is None:
                continue
            for year in range(window[0].year - 2, window[1].year + 2):
                if window[0] <= _anniversary(date, year) + offset <= window[1]:
                    count += store.enrol(
                        conn, automation, contact.email, contact.fields, str(year), now
                    )
        store.mark_scanned(conn, automation.automation_id, today)
    return count
