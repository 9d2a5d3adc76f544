"""Segments compile to the right counts on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from mailfleet.desktop.db.models import Contact, EngagementEvent, FieldType
from mailfleet.desktop.services import segments
from mailfleet.desktop.services.fields import create_field
from mailfleet.desktop.services.workspaces import add_members, create_list, ensure_workspace

NOW = datetime.now(UTC)
TODAY = NOW.date()


@pytest.fixture
def seeded(engine: Engine, workspace: int) -> tuple[Engine, int, int]:
    """Five contacts with varied fields, one list with two of them, one engagement."""
    people: list[dict[str, Any]] = [
        {"email": "ann@a.org", "first_name": "Ann", "status": "subscribed",
         "fields": {"score": 10, "vip": True, "joined": (TODAY - timedelta(days=3)).isoformat(),
                    "city": "Oslo"}},
        {"email": "bob@b.org", "first_name": "Bob", "status": "unsubscribed",
         "fields": {"score": 5, "vip": False, "joined": (TODAY - timedelta(days=40)).isoformat(),
                    "city": "100%_real"}},
        {"email": "cy@a.org", "first_name": "Cy", "status": "bounced",
         "fields": {"score": 7.5, "joined": "2020-01-15"}},
        {"email": "di@c.org", "first_name": "Di", "status": "subscribed", "fields": {}},
        {"email": "ed@c.org", "first_name": "", "status": "complained",
         "fields": {"city": "oslo"}},
    ]  # fmt: skip
    with engine.begin() as conn:
        for label, ftype in [("score", FieldType.NUMBER), ("vip", FieldType.BOOLEAN),
                             ("joined", FieldType.DATE), ("city", FieldType.TEXT)]:  # fmt: skip
            create_field(conn, workspace, label, ftype)
        ids = [
            conn.scalar(insert(Contact).values(workspace_id=workspace, **p).returning(Contact.id))
            for p in people
        ]
        list_id = create_list(conn, workspace, "VIP")
        add_members(conn, list_id, [i for i in ids[:2] if i is not None])
        conn.execute(
            insert(EngagementEvent).values(
                workspace_id=workspace, contact_id=ids[3], campaign_id=9, kind="opened",
                occurred_at=NOW - timedelta(days=2),
            )
        )  # fmt: skip
        other = ensure_workspace(conn, "Other")
        conn.execute(insert(Contact).values(workspace_id=other, email="ann@a.org"))
    return engine, workspace, list_id


def rule(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def test_each_operator_counts_right(seeded: tuple[Engine, int, int]) -> None:
    engine, ws, list_id = seeded
    cases: list[tuple[dict[str, Any], int]] = [
        (rule("email", "ends_with", "@A.ORG"), 2),
        (rule("email", "contains", "%"), 0),
        (rule("field:city", "contains", "%_"), 1),
        (rule("field:city", "equals", "OSLO"), 2),
        (rule("first_name", "is_empty"), 1),
        (rule("field:score", ">=", 7.5), 2),
        (rule("field:score", "!=", 5), 4),
        (rule("field:score", "is_empty"), 2),
        (rule("field:vip", "is_true"), 1),
        (rule("field:vip", "is_false"), 1),
        (rule("field:joined", "within_last_days", 7), 1),
        (rule("field:joined", "more_than_days_ago", 7), 2),
        (rule("field:joined", "on", "2020-01-15"), 1),
        (rule("created_at", "within_last_days", 1), 5),
        (rule("status", "is", ["subscribed", "bounced"]), 3),
        (rule("status", "is_not", "subscribed"), 3),
        (rule("list", "in_list", list_id), 2),
        (rule("list", "not_in_list", list_id), 3),
        (rule("opened", "any_within_days", 7), 1),
        (rule("opened", "none_within_days", 7), 4),
        (rule("opened", "none_within_days", 1), 5),
        (rule("clicked", "campaign", 9), 0),
    ]
    with engine.connect() as conn:
        found = [segments.count(conn, ws, {"match": "all", "rules": [r]}) for r, _ in cases]
    assert found == [expected for _, expected in cases]


def test_nested_groups(seeded: tuple[Engine, int, int]) -> None:
    engine, ws, list_id = seeded
    rules = {
        "match": "any",
        "rules": [
            {"match": "all", "rules": [rule("list", "in_list", list_id),
                                       rule("field:score", ">", 6)]},
            {"match": "all", "rules": [rule("email", "ends_with", "c.org"),
                                       {"match": "any", "rules": []}]},
            rule("status", "is", "bounced"),
        ],
    }  # fmt: skip
    with engine.connect() as conn:
        assert segments.count(conn, ws, rules) == 2
        assert segments.count(conn, ws, segments.empty_rules()) == 5
        assert segments.count(conn, ws, rules, mailable=True) == 1


@pytest.mark.parametrize(
    "bad",
    [rule("nope", "equals", "x"), rule("email", ">", 1), rule("field:score", ">", "many"),
     rule("status", "is", "asleep"), rule("field:joined", "within_last_days", -1)],
)  # fmt: skip
def test_bad_rules_are_refused(seeded: tuple[Engine, int, int], bad: dict[str, Any]) -> None:
    engine, ws, _ = seeded
    with engine.connect() as conn, pytest.raises(segments.SegmentError):
        segments.count(conn, ws, {"match": "all", "rules": [bad]})


def test_saved_rules_round_trip(seeded: tuple[Engine, int, int]) -> None:
    engine, ws, _ = seeded
    rules = {"match": "all", "rules": [rule("field:vip", "is_true")]}
    with engine.begin() as conn:
        segments.save(conn, ws, "VIPs", rules)
    with engine.connect() as conn:
        [(_, name, stored)] = segments.saved(conn, ws)
        assert (name, stored) == ("VIPs", rules)
        assert conn.scalar(select(Contact.email).where(
            segments.segment_condition(conn, ws, stored))) == "ann@a.org"  # fmt: skip
