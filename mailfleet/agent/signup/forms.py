"""A signup form's definition as the agent keeps it, and the checks of what a visitor sends.

The API turns the desktop's ``mailfleet.v1.Form`` into a :class:`Form` (checked once, when
pushed); the store keeps it as JSON; the web pages read it back. :func:`check_submission`
is pure: it gets the posted values and returns either the clean values or the message id
(:mod:`mailfleet.agent.pages.catalogue`) of each field's problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum

from pydantic import BaseModel

from mailfleet.agent.pages.document import Branding
from mailfleet.agent.validation import normalize_address

FORM_ID = re.compile(r"[A-Za-z0-9_-]{3,64}")
# Names the page itself posts (and the mail's link), which no field of the form may take.
RESERVED_NAMES = frozenset({"email", "list", "consent", "t", "website", "confirm_url"})
DEFAULT_MAX_LENGTH = 200


class FieldType(IntEnum):
    """How a field's value is checked (the numbers of ``mailfleet.v1.FieldType``)."""

    TEXT = 1
    NUMBER = 2
    DATE = 3
    CHECKBOX = 4
    CHOICE = 5


class FormField(BaseModel):
    """One field besides the email address."""

    name: str
    label: str
    type: FieldType
    required: bool = False
    choices: tuple[str, ...] = ()
    max_length: int = 0  # 0: DEFAULT_MAX_LENGTH


class FormList(BaseModel):
    """A list the form subscribes to."""

    list_id: str
    name: str


class Form(BaseModel):
    """A form's whole definition."""

    form_id: str
    title: str
    description: str = ""
    lists: tuple[FormList, ...]
    fields: tuple[FormField, ...] = ()
    consent_text: str = ""
    consent_version: str = ""
    success_message: str = ""
    error_message: str = ""
    confirmed_message: str = ""
    branding: Branding = Branding()
    language: str = ""
    single_opt_in: bool = False
    confirm_subject: str = ""
    confirm_html: str = ""
    confirm_text: str = ""
    from_address: str
    from_name: str = ""
    reply_to: str = ""
    daily_cap: int = 0
    closed: bool = False


@dataclass
class Submission:
    """What a visitor posted, checked: the clean values, or the problems by field name."""

    email: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    lists: list[str] = field(default_factory=list)
    consented: bool = False
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the submission may be stored."""
        return not self.problems


def _number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _value_problem(spec: FormField, value: str) -> str | None:
    """The message id of what is wrong with a non-empty value, or None."""
    checks: dict[FieldType, Callable[[str], str | None]] = {
        FieldType.TEXT: lambda v: (
            "too_long" if len(v) > (spec.max_length or DEFAULT_MAX_LENGTH) else None
        ),
        FieldType.NUMBER: lambda v: None if _number(v) else "bad_number",
        FieldType.DATE: lambda v: None if _date(v) else "bad_date",
        FieldType.CHECKBOX: lambda v: None,
        FieldType.CHOICE: lambda v: None if v in spec.choices else "bad_choice",
    }
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        return "invalid"
    return checks[spec.type](value)


def check_fields(
    specs: Sequence[FormField], values: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Check the posted value of each field in ``specs`` by its type and required flag: the
    clean values by name (a ticked checkbox is ``"1"``, an empty field ``""``) and the message
    id of each field's problem."""
    clean: dict[str, str] = {}
    problems: dict[str, str] = {}
    for spec in specs:
        raw = values.get(spec.name, "")
        value = ("1" if raw else "") if spec.type is FieldType.CHECKBOX else raw.strip()
        clean[spec.name] = value
        if not value:
            if spec.required:
                problems[spec.name] = "required"
            continue
        problem = _value_problem(spec, value)
        if problem:
            problems[spec.name] = problem
    return clean, problems


def check_submission(
    form: Form, values: Mapping[str, str], chosen_lists: Sequence[str]
) -> Submission:
    """Check every field of a posted form (``values``: the first value of each name)."""
    out = Submission()
    email = values.get("email", "").strip()
    if not email:
        out.problems["email"] = "required"
    elif normalize_address(email) is None or len(email) > 254:
        out.problems["email"] = "bad_email"
    else:
        out.email = email
    out.fields, problems = check_fields(form.fields, values)
    out.problems.update(problems)
    if len(form.lists) == 1:
        out.lists = [form.lists[0].list_id]
    else:
        offered = {item.list_id for item in form.lists}
        out.lists = [item.list_id for item in form.lists if item.list_id in set(chosen_lists)]
        if not out.lists or not set(chosen_lists) <= offered:
            out.problems["list"] = "list_required"
    out.consented = bool(values.get("consent"))
    if form.consent_text and not out.consented:
        out.problems["consent"] = "consent_required"
    return out
