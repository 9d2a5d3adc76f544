"""Segments: rules stored as data (JSON) and compiled to SQLAlchemy expressions.

A rule set is a group ``{"match": "all" | "any", "rules": [...]}`` whose items are rules
``{"field": ..., "op": ..., "value": ...}`` or nested groups. Values only ever become bound
parameters; field names and operators are looked up in fixed tables, so no SQL text is built
from what the user typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from mailfleet.desktop.db.models import (
    Contact,
    ContactStatus,
    EngagementEvent,
    EngagementKind,
    FieldType,
    ListMembership,
    Segment,
)
from mailfleet.desktop.services import audience_refs
from mailfleet.desktop.services.audience_refs import AudienceUse
from mailfleet.desktop.services.fields import list_fields
from mailfleet.desktop.services.suppression import not_suppressed

Rules = Mapping[str, Any]

TEXT_OPS = ("equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with",
            "is_empty", "is_not_empty")  # fmt: skip
NUMBER_OPS = ("=", "!=", ">", ">=", "<", "<=", "is_empty", "is_not_empty")
DATE_OPS = ("before", "after", "on", "within_last_days", "more_than_days_ago", "is_empty",
            "is_not_empty")  # fmt: skip
BOOLEAN_OPS = ("is_true", "is_false", "is_empty")
STATUS_OPS = ("is", "is_not")
LIST_OPS = ("in_list", "not_in_list")
ENGAGEMENT_OPS = ("campaign", "any_within_days", "none_within_days")

# Built-in fields and their kind; custom fields are "field:<key>" with their defined type.
BUILTIN_FIELDS: dict[str, str] = {
    "email": "text",
    "first_name": "text",
    "last_name": "text",
    "status": "status",
    "created_at": "datetime",
    "consent_at": "datetime",
    "list": "list",
    "opened": "engagement",
    "clicked": "engagement",
}
OPERATORS: dict[str, tuple[str, ...]] = {
    "text": TEXT_OPS,
    "number": NUMBER_OPS,
    "date": DATE_OPS,
    "datetime": DATE_OPS,
    "boolean": BOOLEAN_OPS,
    "status": STATUS_OPS,
    "list": LIST_OPS,
    "engagement": ENGAGEMENT_OPS,
}


class SegmentError(ValueError):
    """A rule that cannot be compiled; the message names the problem for the user."""


def empty_rules() -> dict[str, Any]:
    """A rule set that matches everyone."""
    return {"match": "all", "rules": []}


def field_kinds(conn: Connection, workspace_id: int) -> dict[str, str]:
    """Every field a rule can use in this workspace, with its kind (text, number, ...)."""
    kinds = dict(BUILTIN_FIELDS)
    for spec in list_fields(conn, workspace_id):
        kinds[f"field:{spec.key}"] = spec.type.value
    return kinds


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SegmentError(f"{value!r} is not a number") from None


def _days(value: Any) -> int:
    days = _number(value)
    if days < 0 or days != int(days):
        raise SegmentError(f"{value!r} is not a whole number of days")
    return int(days)


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SegmentError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _text(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    text = "" if value is None else str(value)
    empty = or_(column.is_(None), column == "")
    table: dict[str, Callable[[], ColumnElement[bool]]] = {
        "equals": lambda: func.lower(column) == text.lower(),
        "not_equals": lambda: or_(column.is_(None), func.lower(column) != text.lower()),
        "contains": lambda: column.icontains(text, autoescape=True),
        "not_contains": lambda: or_(column.is_(None), ~column.icontains(text, autoescape=True)),
        "starts_with": lambda: column.istartswith(text, autoescape=True),
        "ends_with": lambda: column.iendswith(text, autoescape=True),
        "is_empty": lambda: empty,
        "is_not_empty": lambda: ~empty,
    }
    return table[op]()


def _compare(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    table: dict[str, Callable[[], ColumnElement[bool]]] = {
        "=": lambda: column == value,
        "!=": lambda: or_(column.is_(None), column != value),
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
        "is_empty": lambda: column.is_(None),
        "is_not_empty": lambda: column.is_not(None),
    }
    return table[op]()


def _dates(
    column: ColumnElement[Any], op: str, value: Any, now: datetime, as_text: bool
) -> ColumnElement[bool]:
    """Date rules on a timestamp column or (``as_text``) an ISO date stored in JSON."""
    if op in ("is_empty", "is_not_empty"):
        return _compare(column, op, None)

    def point(day: date) -> str | datetime:
        return day.isoformat() if as_text else datetime(day.year, day.month, day.day, tzinfo=UTC)

    today = now.date()
    if op == "within_last_days":
        return column >= point(today - timedelta(days=_days(value)))
    if op == "more_than_days_ago":
        return column < point(today - timedelta(days=_days(value)))
    day = _day(value)
    if op == "before":
        return column < point(day)
    if op == "after":
        return column >= point(day + timedelta(days=1))
    return and_(column >= point(day), column < point(day + timedelta(days=1)))


def _engagement(kind: str, op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    events = exists().where(
        EngagementEvent.contact_id == Contact.id, EngagementEvent.kind == EngagementKind(kind)
    )
    if op == "campaign":
        return events.where(EngagementEvent.campaign_id == int(_number(value)))
    since = now - timedelta(days=_days(value))
    recent = events.where(EngagementEvent.occurred_at >= since)
    return recent if op == "any_within_days" else ~recent


def _rule(rule: Rules, kinds: Mapping[str, str], now: datetime) -> ColumnElement[bool]:
    name, op, value = rule.get("field"), rule.get("op"), rule.get("value")
    if not isinstance(name, str) or name not in kinds:
        raise SegmentError(f"unknown field {name!r}")
    kind = kinds[name]
    if op not in OPERATORS[kind]:
        raise SegmentError(f"{name}: unknown operator {op!r}")
    assert isinstance(op, str)
    if kind == "status":
        wanted = [str(v) for v in (value if isinstance(value, list) else [value])]
        unknown = set(wanted) - {s.value for s in ContactStatus}
        if unknown:
            raise SegmentError(f"unknown status {sorted(unknown)[0]!r}")
        matched = Contact.status.in_(wanted)
        return matched if op == "is" else ~matched
    if kind == "list":
        member = exists().where(
            ListMembership.contact_id == Contact.id,
            ListMembership.list_id == int(_number(value)),
        )
        return member if op == "in_list" else ~member
    if kind == "engagement":
        return _engagement(name, op, value, now)
    if name.startswith("field:"):
        element = Contact.fields[name.removeprefix("field:")]
        if kind == FieldType.TEXT:
            return _text(element.as_string(), op, value)
        if kind == FieldType.NUMBER:
            number = None if op.startswith("is_") else _number(value)
            return _compare(element.as_float(), op, number)
        if kind == FieldType.DATE:
            return _dates(element.as_string(), op, value, now, as_text=True)
        as_text: ColumnElement[Any] = element.as_string()
        as_bool: ColumnElement[Any] = element.as_boolean()
        if op == "is_empty":
            return as_text.is_(None)
        return as_bool == (op == "is_true")
    column: ColumnElement[Any] = getattr(Contact, name)
    if kind == "datetime":
        return _dates(column, op, value, now, as_text=False)
    return _text(column, op, value)


def compile_rules(
    rules: Rules, kinds: Mapping[str, str], now: datetime | None = None
) -> ColumnElement[bool]:
    """The condition on ``Contact`` that a rule set stands for. An empty group matches all."""
    now = now or datetime.now(UTC)
    match = rules.get("match", "all")
    if match not in ("all", "any"):
        raise SegmentError(f"a group matches 'all' or 'any', not {match!r}")
    parts = [
        compile_rules(item, kinds, now) if "rules" in item else _rule(item, kinds, now)
        for item in rules.get("rules", [])
    ]
    if not parts:
        return true() if match == "all" else false()
    return and_(*parts) if match == "all" else or_(*parts)


def count(conn: Connection, workspace_id: int, rules: Rules, *, mailable: bool = False) -> int:
    """How many of the workspace's contacts match; ``mailable`` keeps only subscribed,
    unsuppressed ones (the campaign's recipients)."""
    condition = segment_condition(conn, workspace_id, rules, mailable=mailable)
    found = conn.scalar(select(func.count()).select_from(Contact).where(condition))
    return int(found or 0)


def segment_condition(
    conn: Connection, workspace_id: int, rules: Rules, *, mailable: bool = False
) -> ColumnElement[bool]:
    """Workspace filter plus the compiled rules (plus the sendable filter if ``mailable``)."""
    condition = and_(
        Contact.workspace_id == workspace_id,
        compile_rules(rules, field_kinds(conn, workspace_id)),
    )
    if mailable:
        condition = and_(
            condition,
            Contact.status == ContactStatus.SUBSCRIBED.value,
            not_suppressed(workspace_id),
        )
    return condition


def save(conn: Connection, workspace_id: int, name: str, rules: Rules) -> int:
    """Store a segment (after checking its rules compile) and return its id; a name already
    in use is refused."""
    compile_rules(rules, field_kinds(conn, workspace_id))
    new_id = conn.scalar(
        insert(Segment)
        .values(
            workspace_id=workspace_id,
            name=_free_name(conn, workspace_id, name, None),
            rules=dict(rules),
        )
        .returning(Segment.id)
    )
    assert new_id is not None
    return int(new_id)


def saved(conn: Connection, workspace_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    """The workspace's saved segments as (id, name, rules), by name."""
    rows = conn.execute(
        select(Segment.id, Segment.name, Segment.rules)
        .where(Segment.workspace_id == workspace_id)
        .order_by(Segment.name)
    )
    return [(sid, name, rules) for sid, name, rules in rows]


def _own(conn: Connection, workspace_id: int, segment_id: int) -> None:
    found = conn.scalar(
        select(Segment.id).where(Segment.id == segment_id, Segment.workspace_id == workspace_id)
    )
    if found is None:
        raise LookupError("that segment no longer exists")


def rename(conn: Connection, workspace_id: int, segment_id: int, name: str) -> None:
    """Rename a saved segment; a name already in use is refused."""
    _own(conn, workspace_id, segment_id)
    clean = _free_name(conn, workspace_id, name, segment_id)
    conn.execute(update(Segment).where(Segment.id == segment_id).values(name=clean))


def _free_name(conn: Connection, workspace_id: int, name: str, segment_id: int | None) -> str:
    """``name`` without surrounding spaces, if no other segment has it."""
    clean = name.strip()
    if not clean:
        raise ValueError("a segment needs a name")
    taken = conn.scalar(
        select(Segment.id).where(
            Segment.workspace_id == workspace_id,
            Segment.name == clean,
            Segment.id != (segment_id or 0),
        )
    )
    if taken is not None:
        raise ValueError(f"there is already a segment called {clean}")
    return clean


def campaigns_using(conn: Connection, workspace_id: int, segment_id: int) -> AudienceUse:
    """The campaigns that chose this segment."""
    return audience_refs.campaigns_using(conn, workspace_id, "segments", segment_id)


def remove(conn: Connection, workspace_id: int, segment_id: int) -> None:
    """Delete a saved segment (no contact is touched). Refused while a draft campaign's
    audience includes it."""
    _own(conn, workspace_id, segment_id)
    audience_refs.refuse_if_drafts(campaigns_using(conn, workspace_id, segment_id), "This segment")
    conn.execute(delete(Segment).where(Segment.id == segment_id))
