"""Managing custom fields: who uses one, renaming, changing its type and deleting it.

A field lives in three places besides its definition: the contacts' values (``Contact.fields``,
keyed by the field's key), saved segments (rules on ``field:<key>``) and templates (the merge tag
``{{ key }}``). Renaming follows it into all three; changing the type converts the values and
says first how many will not convert; deleting says first what uses it. Contacts are rewritten
in batches by id, so a million of them never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError
from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, select, update

from mailfleet.desktop.db.models import (
    Campaign,
    CampaignState,
    Contact,
    FieldDefinition,
    FieldType,
    Segment,
    Template,
)
from mailfleet.desktop.services import content_checks, segments, template_editors, templates
from mailfleet.desktop.services.fields import (
    BUILTIN_COLUMNS,
    FieldSpec,
    FieldValueError,
    convert,
    field_key,
    find_field,
    list_fields,
    value_text,
)

_BATCH = 5000
_EXAMPLES = 3


@dataclass(frozen=True)
class FieldUsage:
    """What uses a field: how many contacts hold a value, and the segments and templates
    (by name) that refer to it."""

    contacts: int
    segments: tuple[str, ...]
    templates: tuple[str, ...]


@dataclass(frozen=True)
class RetypePlan:
    """What changing a field's type would do: values that convert, values that do not (they
    would be emptied) with a few examples, and segments whose rules the new type cannot have
    (the change is refused while there are any)."""

    converted: int
    failed: int
    examples: tuple[str, ...]
    blocking_segments: tuple[str, ...]


def _field(conn: Connection, workspace_id: int, key: str) -> FieldSpec:
    found = find_field(conn, workspace_id, key)
    if found is None:
        raise LookupError("that field no longer exists")
    return found


def _has_value(key: str) -> ColumnElement[bool]:
    value: ColumnElement[Any] = Contact.fields[key].as_string()
    return value.is_not(None)


def _rules_on(rules: Any, name: str) -> Iterator[dict[str, Any]]:
    """Every rule of a rule set (nested groups included) on the field ``name``."""
    for item in rules.get("rules", []):
        if "rules" in item:
            yield from _rules_on(item, name)
        elif item.get("field") == name:
            yield item


def _segments(conn: Connection, workspace_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    return segments.saved(conn, workspace_id)


def _template_uses(row: templates.TemplateRow, key: str) -> bool:
    try:
        return key in templates.used_tags(row.subject, row.html, row.text)
    except TemplateSyntaxError:
        return False  # a broken template is reported by its own checks


def usage(conn: Connection, workspace_id: int, key: str) -> FieldUsage:
    """Who uses the field ``key``."""
    _field(conn, workspace_id, key)
    name = f"field:{key}"
    return FieldUsage(
        contacts=_holding(conn, workspace_id, key),
        segments=tuple(
            seg for _, seg, rules in _segments(conn, workspace_id) if any(_rules_on(rules, name))
        ),
        templates=tuple(
            t.name for t in templates.list_templates(conn, workspace_id) if _template_uses(t, key)
        ),
    )


def overview(conn: Connection, workspace_id: int) -> list[tuple[FieldSpec, int]]:
    """The workspace's fields in definition order, each with how many contacts hold a value."""
    return [
        (spec, _holding(conn, workspace_id, spec.key)) for spec in list_fields(conn, workspace_id)
    ]


def _holding(conn: Connection, workspace_id: int, key: str) -> int:
    held = conn.scalar(
        select(func.count())
        .select_from(Contact)
        .where(Contact.workspace_id == workspace_id, _has_value(key))
    )
    return int(held or 0)


def _rewrite_values(
    conn: Connection,
    workspace_id: int,
    key: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """Apply ``change`` to the values of every contact that holds one for ``key``."""
    last = 0
    statement = (
        update(Contact).where(Contact.id == bindparam("b_id")).values(fields=bindparam("b_fields"))
    )
    while True:
        batch = conn.execute(
            select(Contact.id, Contact.fields)
            .where(Contact.workspace_id == workspace_id, Contact.id > last, _has_value(key))
            .order_by(Contact.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        conn.execute(
            statement, [{"b_id": cid, "b_fields": change(dict(values))} for cid, values in batch]
        )
        last = batch[-1][0]


def rename_field(conn: Connection, workspace_id: int, key: str, label: str) -> FieldSpec:
    """Give the field a new label, and the key that follows from it: contacts' values, segment
    rules and templates' merge tags move to the new key. Returns the renamed field."""
    old = _field(conn, workspace_id, key)
    new = FieldSpec(field_key(label), label.strip() or old.label, old.type)
    if new.key != old.key:
        if new.key in BUILTIN_COLUMNS or new.key in content_checks.BUILT_IN_TAGS:
            raise ValueError(f"{new.key} is a built-in field")
        if find_field(conn, workspace_id, new.key) is not None:
            raise ValueError(f"there is already a field called {new.key}")
    conn.execute(
        update(FieldDefinition)
        .where(FieldDefinition.workspace_id == workspace_id, FieldDefinition.key == key)
        .values(key=new.key, label=new.label)
    )
    if new.key == old.key:
        return new

    def move(values: dict[str, Any]) -> dict[str, Any]:
        values[new.key] = values.pop(key)
        return values

    _rewrite_values(conn, workspace_id, key, move)
    name = f"field:{key}"
    for seg_id, _, rules in _segments(conn, workspace_id):
        found = list(_rules_on(rules, name))
        for rule in found:
            rule["field"] = f"field:{new.key}"
        if found:
            conn.execute(update(Segment).where(Segment.id == seg_id).values(rules=rules))
    _rename_tags(conn, workspace_id, key, new.key)
    return new


def _rename_tags(conn: Connection, workspace_id: int, old: str, new: str) -> None:
    """Rewrite the merge tag in templates and in draft campaigns (their content is a copy, and
    they are still to be sent)."""
    saved: list[tuple[int, str, str, str]] = [
        (t.id, t.subject, t.html, t.text) for t in templates.list_templates(conn, workspace_id)
    ]
    _rewrite_content(conn, Template, saved, old, new)
    for t in templates.list_templates(conn, workspace_id):
        source = template_editors.rename_tag(t.editor, t.source, old, new)
        if source != t.source:  # the editor's source, from which html and text are rendered
            conn.execute(update(Template).where(Template.id == t.id).values(source=source))
    drafts = conn.execute(
        select(Campaign.id, Campaign.subject, Campaign.html, Campaign.text).where(
            Campaign.workspace_id == workspace_id, Campaign.state == CampaignState.DRAFT.value
        )
    )
    _rewrite_content(conn, Campaign, [(i, s, h, t) for i, s, h, t in drafts], old, new)


def _rewrite_content(
    conn: Connection,
    table: type[Template] | type[Campaign],
    rows: list[tuple[int, str, str, str]],
    old: str,
    new: str,
) -> None:
    for ident, subject, html, text in rows:
        renamed = [templates.rename_tag(part, old, new) for part in (subject, html, text)]
        if renamed != [subject, html, text]:
            conn.execute(
                update(table)
                .where(table.id == ident)
                .values(subject=renamed[0], html=renamed[1], text=renamed[2])
            )


def plan_retype(conn: Connection, workspace_id: int, key: str, ftype: FieldType) -> RetypePlan:
    """What changing the field to ``ftype`` would do, without doing it."""
    _field(conn, workspace_id, key)
    converted = failed = 0
    examples: list[str] = []
    rows = conn.execute(
        select(Contact.fields[key])
        .where(Contact.workspace_id == workspace_id, _has_value(key))
        .execution_options(yield_per=_BATCH)
    )
    for (value,) in rows:
        try:
            convert(value, ftype)
        except FieldValueError:
            failed += 1
            text = value_text(value)
            if len(examples) < _EXAMPLES and text not in examples:
                examples.append(text)
        else:
            converted += 1
    allowed = segments.OPERATORS[ftype.value]
    name = f"field:{key}"
    blocking = tuple(
        seg
        for _, seg, rules in _segments(conn, workspace_id)
        if any(rule.get("op") not in allowed for rule in _rules_on(rules, name))
    )
    return RetypePlan(converted, failed, tuple(examples), blocking)


def retype_field(conn: Connection, workspace_id: int, key: str, ftype: FieldType) -> int:
    """Change the field's type, converting every value; a value with no reading in the new
    type is emptied. Refused while a segment has a rule the new type cannot have. Returns how
    many values were emptied."""
    plan = plan_retype(conn, workspace_id, key, ftype)
    if plan.blocking_segments:
        raise ValueError(
            f"change the rules on this field in {', '.join(plan.blocking_segments)} first"
        )

    def to_type(values: dict[str, Any]) -> dict[str, Any]:
        try:
            values[key] = convert(values[key], ftype)
        except FieldValueError:
            del values[key]
        return values

    _rewrite_values(conn, workspace_id, key, to_type)
    conn.execute(
        update(FieldDefinition)
        .where(FieldDefinition.workspace_id == workspace_id, FieldDefinition.key == key)
        .values(type=ftype.value)
    )
    return plan.failed


def delete_field(conn: Connection, workspace_id: int, key: str) -> int:
    """Delete the field and every contact's value for it; returns how many values went.
    Segments and templates that use it are left as they are (``usage`` names them)."""
    _field(conn, workspace_id, key)
    held = usage(conn, workspace_id, key).contacts

    def drop(values: dict[str, Any]) -> dict[str, Any]:
        values.pop(key, None)
        return values

    _rewrite_values(conn, workspace_id, key, drop)
    conn.execute(
        delete(FieldDefinition).where(
            FieldDefinition.workspace_id == workspace_id, FieldDefinition.key == key
        )
    )
    return held
