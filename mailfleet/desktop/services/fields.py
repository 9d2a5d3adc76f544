"""Custom fields: definitions per workspace and the parsing of typed values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, insert, select

from mailfleet.desktop.db.models import FieldDefinition, FieldType

BUILTIN_COLUMNS = ("email", "first_name", "last_name")
# How each type is named on screen.
TYPE_LABELS = {
    FieldType.TEXT: "Text",
    FieldType.NUMBER: "Number",
    FieldType.DATE: "Date",
    FieldType.BOOLEAN: "Yes/no",
}
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A custom field as the services see it."""

    key: str
    label: str
    type: FieldType


class FieldValueError(ValueError):
    """A cell that does not hold a value of its field's type."""


def field_key(label: str) -> str:
    """A stable key for a field label: lower case, ASCII letters, digits and underscores."""
    key = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
    return (key or "field")[:64]


def parse_value(ftype: FieldType, raw: str) -> str | float | bool | None:
    """Parse a cell for a field of type ``ftype``; empty means "no value" (None).

    Dates are kept as ISO ``YYYY-MM-DD`` text so they compare correctly as strings in SQL.
    """
    text = raw.strip()
    if not text:
        return None
    if ftype is FieldType.TEXT:
        return raw
    if ftype is FieldType.NUMBER:
        try:
            number = float(text)
        except ValueError:
            raise FieldValueError(f"{text!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise FieldValueError(f"{text!r} is not a finite number")
        return number
    if ftype is FieldType.DATE:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text).date().isoformat()
        except ValueError:
            raise FieldValueError(f"{text!r} is not a date (use YYYY-MM-DD)") from None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FieldValueError(f"{text!r} is not yes/no")


def value_text(value: str | float | bool) -> str:
    """A stored value written the way a person would type it (the input of ``parse_value``)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def convert(value: str | float | bool, ftype: FieldType) -> str | float | bool | None:
    """A stored value as a value of type ``ftype``; ``FieldValueError`` if it has no such
    reading (text "lots" as a number)."""
    return parse_value(ftype, value_text(value))


def list_fields(conn: Connection, workspace_id: int) -> list[FieldSpec]:
    """The workspace's custom fields, in the order they were defined."""
    rows = conn.execute(
        select(FieldDefinition.key, FieldDefinition.label, FieldDefinition.type)
        .where(FieldDefinition.workspace_id == workspace_id)
        .order_by(FieldDefinition.id)
    )
    return [FieldSpec(key, readable_label(label), FieldType(ftype)) for key, label, ftype in rows]


def readable_label(label: str) -> str:
    """A label as people write it: a column header written as a key ("signup_date") reads
    "Signup date"; any other label stays as it was typed. Its key is the same either way."""
    text = label.strip()
    if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", text):
        return text.replace("_", " ").capitalize()
    return text


def create_field(conn: Connection, workspace_id: int, label: str, ftype: FieldType) -> FieldSpec:
    """Define a new custom field; its key is derived from the label."""
    spec = FieldSpec(field_key(label), readable_label(label) or "Field", ftype)
    if spec.key in BUILTIN_COLUMNS:
        raise ValueError(f"{label!r} is a built-in column")
    if find_field(conn, workspace_id, spec.key) is not None:
        raise ValueError(f"there is already a field called {spec.key}")
    conn.execute(
        insert(FieldDefinition).values(
            workspace_id=workspace_id, key=spec.key, label=spec.label, type=spec.type.value
        )
    )
    return spec


def find_field(conn: Connection, workspace_id: int, key: str) -> FieldSpec | None:
    """The workspace's field with this key, if there is one."""
    return next((f for f in list_fields(conn, workspace_id) if f.key == key), None)
