"""An automation's definition: its trigger and ordered steps, read from and written as JSON.

The store keeps the JSON as it is; this module is the one place that knows its shape
(docs/automations.md describes it for API callers). Checks here are what makes a walk end:
a branch only goes forward, so every enrolment finishes after at most one pass per step.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.validation import normalize_address

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_STEPS = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignupTrigger(_Strict):
    """A signup confirmed (or stored confirmed); with ``lists``, only to one of them."""

    kind: Literal["signup"]
    lists: tuple[str, ...] = ()


class EventTrigger(_Strict):
    """An event an app sends over the API, by name (``order_placed``)."""

    kind: Literal["event"]
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")


class DateTrigger(_Strict):
    """``offset_days`` after (before, when negative) the date in a contact's ``field``
    (YYYY-MM-DD; the year is ignored), once a year."""

    kind: Literal["date"]
    field: str = Field(min_length=1, max_length=100)
    offset_days: int = Field(0, ge=-366, le=366)


Trigger = Annotated[SignupTrigger | EventTrigger | DateTrigger, Field(discriminator="kind")]


class SendStep(_Strict):
    """Queue a message from these templates (Jinja2, with the enrolment's fields)."""

    kind: Literal["send"]
    from_address: str = Field(min_length=3, max_length=254)
    from_name: str = Field("", max_length=200)
    subject: str = Field(min_length=1, max_length=1000)
    html: str = ""
    text: str = ""
    track_opens: bool = True
    track_clicks: bool = True

    @model_validator(mode="after")
    def _has_body(self) -> SendStep:
        if normalize_address(self.from_address) is None:
            raise ValueError(f"{self.from_address!r} is not a valid email address")
        if not (self.html or self.text):
            raise ValueError("a send step needs html or text")
        return self


class WaitStep(_Strict):
    """Wait ``seconds``; or, with ``weekdays`` and/or ``time``, until the next moment (UTC) on
    one of those weekdays at that time of day (any day; midnight when no time)."""

    kind: Literal["wait"]
    seconds: float = Field(0.0, ge=0, le=10 * 366 * 86400)
    weekdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = ()
    time: str = Field("", pattern=r"^(([01]\d|2[0-3]):[0-5]\d)?$")

    @model_validator(mode="after")
    def _one_kind(self) -> WaitStep:
        until = bool(self.weekdays or self.time)
        if until == bool(self.seconds):
            raise ValueError("a wait step needs seconds, or weekdays and/or a time, not both")
        return self


class BranchStep(_Strict):
    """Go to step ``then`` when the condition holds, else to ``otherwise`` (the next step when
    unset). The condition: the message of send step ``step`` was ``opened`` or ``clicked``; or
    the field ``field`` equals ``equals``."""

    kind: Literal["branch"]
    condition: Literal["opened", "clicked", "field"]
    step: int = Field(-1, ge=-1)
    field: str = ""
    equals: str = ""
    then: int = Field(ge=0)
    otherwise: int | None = Field(None, ge=0)


class TagStep(_Strict):
    """Add or remove a tag (a list when it is ``list:<id>``) on the contact."""

    kind: Literal["tag"]
    action: Literal["add", "remove"]
    tag: str = Field(min_length=1, max_length=100)


class ExitStep(_Strict):
    """Leave the automation here."""

    kind: Literal["exit"]


Step = Annotated[SendStep | WaitStep | BranchStep | TagStep | ExitStep, Field(discriminator="kind")]


class Definition(_Strict):
    """What an automation does: one version of it."""

    trigger: Trigger
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)
    # like a campaign's tags: a list:<id> tag makes that list's unsubscribe stop its mail
    tags: tuple[str, ...] = Field((), max_length=50)
    allow_reentry: bool = False

    @model_validator(mode="after")
    def _forward_branches(self) -> Definition:
        for i, step in enumerate(self.steps):
            if not isinstance(step, BranchStep):
                continue
            targets = [step.then] + ([] if step.otherwise is None else [step.otherwise])
            if any(t <= i or t > len(self.steps) for t in targets):
                raise ValueError(f"step {i}: a branch goes to a later step (or the end)")
            if step.condition == "field" and not step.field:
                raise ValueError(f"step {i}: a field branch names its field")
            if step.condition != "field":
                sent = step.step
                if not 0 <= sent < i or not isinstance(self.steps[sent], SendStep):
                    raise ValueError(f"step {i}: an opened or clicked branch names an earlier send")
        return self

    def trigger_key(self) -> str:
        """What the store finds the automation by when a trigger fires."""
        if isinstance(self.trigger, EventTrigger):
            return f"event:{self.trigger.name}"
        return self.trigger.kind


def parse(text: str) -> Definition:
    """Read a definition; raises InvalidArgument (field ``definition``) saying what is wrong."""
    try:
        return Definition.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidArgument("definition", f"{where}: {message}" if where else message) from None


def dump(definition: Definition) -> str:
    """The definition as the store keeps it."""
    return definition.model_dump_json()
