"""Enrolments moved on in a real store file by a clock the tests move: sends queued through
the one enqueue path (suppression and list unsubscribes apply), once per step and contact,
versions kept, date triggers once a year."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from mailfleet.agent.automations import definition, triggers
from mailfleet.agent.automations.advance import Definitions, advance_due
from mailfleet.agent.model import EventType, MessageState
from mailfleet.agent.store import automations, events, suppression
from mailfleet.agent.store.automations import AutomationState
from tests.agent.automations.rules import DAY, send, welcome_series

T0 = dt.datetime(2026, 12, 8, 10, 0, tzinfo=dt.UTC).timestamp()
TENANT = 1


def _put(conn: sqlite3.Connection, text: str, name: str = "welcome") -> automations.Automation:
    rules = definition.parse(text)
    automations.put(conn, TENANT, name, definition.dump(rules), rules.trigger_key(), T0)
    return automations.set_state(conn, TENANT, name, AutomationState.ACTIVE, T0)


def _run(conn: sqlite3.Connection, now: float, cache: Definitions | None = None) -> int:
    conn.execute("BEGIN IMMEDIATE")
    moved = advance_due(conn, now, 100, cache or Definitions())
    conn.execute("COMMIT")
    return moved


def _mail(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(address, subject, state) of every message, in queueing order."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT m.email, json_extract(c.spec, '$.content.subject'), m.state FROM messages m"
            " JOIN contents c ON c.id = m.content_id ORDER BY m.id"
        )
    ]


def _signup(conn: sqlite3.Connection, email: str, lists: tuple[str, ...] = ()) -> int:
    return triggers.on_signup(conn, TENANT, email, {"name": "A"}, lists, f"signup:{email}", T0)


def _open(conn: sqlite3.Connection, message_id: int) -> None:
    events.append(conn, TENANT, EventType.MESSAGE_OPENED, message_id=message_id)


def test_a_welcome_series_sends_each_step_once_to_the_right_contacts(
    conn: sqlite3.Connection,
) -> None:
    _put(conn, welcome_series())
    assert _signup(conn, "opener@example.com") == 1
    assert _signup(conn, "quiet@example.com") == 1
    assert _signup(conn, "opener@example.com") == 0  # a contact enters once
    assert _run(conn, T0) == 2
    assert [(a, s) for a, s, _ in _mail(conn)] == [
        ("opener@example.com", "Welcome"),
        ("quiet@example.com", "Welcome"),
    ]
    _open(conn, 1)
    assert _run(conn, T0 + DAY) == 0  # still waiting
    assert _run(conn, T0 + 2 * DAY) == 2
    assert _run(conn, T0 + 30 * DAY) == 0  # both walks have ended
    assert [(a, s) for a, s, _ in _mail(conn)][2:] == [
        ("opener@example.com", "A tip for you"),
        ("quiet@example.com", "Did you see our welcome?"),
    ]
    found = automations.get(conn, TENANT, "welcome")
    stats = {s.step: s for s in automations.step_stats(conn, found.automation_id, 1)}
    assert (stats[0].entered, stats[0].sent, stats[0].opened) == (2, 2, 1)
    assert (stats[3].sent, stats[4].exited, stats[5].sent, stats[5].exited) == (1, 1, 1, 1)
    assert found.active_enrolments == 0


def test_unsubscribed_and_list_unsubscribed_contacts_get_nothing(
    conn: sqlite3.Connection,
) -> None:
    _put(conn, welcome_series(tags=["list:news"]))
    suppression.add(
        conn,
        TENANT,
        [
            suppression.Entry("left@example.com", suppression.Reason.UNSUBSCRIBE),
            suppression.Entry(
                "news-only@example.com", suppression.Reason.UNSUBSCRIBE, scope="list:news"
            ),
            suppression.Entry(
                "other-list@example.com", suppression.Reason.UNSUBSCRIBE, scope="list:other"
            ),
        ],
        T0,
    )
    for email in ("left@example.com", "news-only@example.com", "other-list@example.com"):
        _signup(conn, email)
    _run(conn, T0)
    states = {a: MessageState(s) for a, _, s in _mail(conn)}
    assert states == {
        "left@example.com": MessageState.SUPPRESSED,
        "news-only@example.com": MessageState.SUPPRESSED,
        "other-list@example.com": MessageState.QUEUED,
    }


def test_contacts_in_a_step_finish_on_the_version_they_entered(conn: sqlite3.Connection) -> None:
    _put(conn, welcome_series())
    _signup(conn, "early@example.com")
    cache = Definitions()
    _run(conn, T0, cache)
    changed = json.loads(welcome_series())
    changed["steps"][5] = send("The new tip")
    changed["steps"][3] = send("The new nudge")
    _put(conn, json.dumps(changed))
    assert automations.get(conn, TENANT, "welcome").version == 2
    _signup(conn, "late@example.com")
    _run(conn, T0, cache)
    _run(conn, T0 + 3 * DAY, cache)
    assert [(a, s) for a, s, _ in _mail(conn)] == [
        ("early@example.com", "Welcome"),
        ("late@example.com", "Welcome"),
        ("early@example.com", "Did you see our welcome?"),
        ("late@example.com", "The new nudge"),
    ]


def test_a_paused_automation_takes_no_one_in_and_moves_no_one_on(
    conn: sqlite3.Connection,
) -> None:
    _put(conn, welcome_series())
    _signup(conn, "a@example.com")
    automations.set_state(conn, TENANT, "welcome", AutomationState.PAUSED, T0)
    assert _signup(conn, "b@example.com") == 0
    assert _run(conn, T0) == 0 and _mail(conn) == []
    automations.set_state(conn, TENANT, "welcome", AutomationState.ACTIVE, T0)
    assert _run(conn, T0) == 1


def test_a_list_signup_trigger_takes_only_that_lists_signups(conn: sqlite3.Connection) -> None:
    _put(conn, welcome_series({"kind": "signup", "lists": ["news"]}))
    assert _signup(conn, "other@example.com", ("offers",)) == 0
    assert _signup(conn, "news@example.com", ("offers", "news")) == 1


def test_a_date_trigger_fires_once_a_year_per_contact(conn: sqlite3.Connection) -> None:
    rules = {
        "trigger": {"kind": "date", "field": "birthday", "offset_days": -1},
        "steps": [send("Happy birthday tomorrow")],
    }
    automations.put_contact(conn, TENANT, "dec9@example.com", {"birthday": "1990-12-09"}, T0)
    automations.put_contact(conn, TENANT, "dec20@example.com", {"birthday": "1985-12-20"}, T0)
    automations.put_contact(conn, TENANT, "none@example.com", {"birthday": "soon"}, T0)
    _put(conn, json.dumps(rules), "birthday")

    def day(now: float) -> list[str]:
        conn.execute("BEGIN IMMEDIATE")
        triggers.scan_dates(conn, now)
        conn.execute("COMMIT")
        before = len(_mail(conn))
        _run(conn, now)
        return [a for a, _, _ in _mail(conn)[before:]]

    assert day(T0) == ["dec9@example.com"]  # 8 December: the day before the 9th
    assert day(T0 + 3600) == []  # the same day again
    assert day(T0 + 14 * DAY) == ["dec20@example.com"]  # days the agent missed caught up
    assert day(T0 + 15 * DAY) == []
    assert day(T0 + 365 * DAY) == ["dec9@example.com"]  # a year later, once more
    assert day(T0 + 366 * DAY) == []
