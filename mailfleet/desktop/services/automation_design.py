"""An automation as the designer shows it: a trigger and a vertical flow of steps, each in the
marketer's terms (a template by name, a wait in days, "if step 1's mail was opened"), and the
agent's definition built from it (docs/automations.md).

Pure: no database, no Qt. Branches name steps by position, so inserting or removing a step
moves the branches that point past it (``insert_step``, ``remove_step``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mailfleet.desktop.services.plurals import counted

STEP_KINDS = ("send", "wait", "branch", "tag", "exit")
TRIGGER_KINDS = ("signup", "event", "date")
WAIT_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                    "Saturday", "Sunday"), strict=True))  # fmt: skip
TAG_ACTIONS = ("add", "remove")


class DesignError(ValueError):
    """What is wrong with a design, in words for the marketer."""


@dataclass
class TriggerDesign:
    """How contacts enter: a confirmed signup (to one of ``list_ids``, or any), an app's event
    named ``event``, or ``offset_days`` around the date in the field ``field``."""

    kind: str = "signup"
    list_ids: list[int] = field(default_factory=list)
    event: str = ""
    field: str = ""
    offset_days: int = 0


@dataclass
class StepDesign:
    """One step; only the attributes of its ``kind`` matter.

    send: ``template_id``, ``from_address``, ``from_name``; wait: ``wait_amount``
    ``wait_unit``, or with ``wait_until`` the next of ``weekdays`` at ``time``; branch:
    ``condition`` ("opened", "clicked" the mail of step ``ref_step``, or "field" ``field``
    equals ``equals``) going to ``then`` (a later step, or the end: the number of steps),
    else to ``otherwise`` (None: the next step); tag: ``action`` and ``tag`` (``list:<id>``
    for a list).
    """

    kind: str
    template_id: int | None = None
    from_address: str = ""
    from_name: str = ""
    wait_amount: int = 1
    wait_unit: str = "days"
    wait_until: bool = False
    weekdays: list[str] = field(default_factory=list)
    time: str = "09:00"
    condition: str = "opened"
    ref_step: int = 0
    field: str = ""
    equals: str = ""
    then: int = 0
    otherwise: int | None = None
    action: str = "add"
    tag: str = ""


@dataclass
class AutomationDesign:
    """Everything the designer edits."""

    name: str = ""
    trigger: TriggerDesign = field(default_factory=TriggerDesign)
    steps: list[StepDesign] = field(default_factory=list)
    allow_reentry: bool = False
    agent_ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The design as the database keeps it."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AutomationDesign:
        """Read a stored design (keys it does not know are ignored)."""
        trigger_keys = {f.name for f in fields(TriggerDesign)}
        step_keys = {f.name for f in fields(StepDesign)}
        return cls(
            name=str(data.get("name", "")),
            trigger=TriggerDesign(
                **{k: v for k, v in data.get("trigger", {}).items() if k in trigger_keys}
            ),
            steps=[
                StepDesign(**{k: v for k, v in s.items() if k in step_keys})
                for s in data.get("steps", [])
            ],
            allow_reentry=bool(data.get("allow_reentry", False)),
            agent_ids=[int(i) for i in data.get("agent_ids", [])],
        )


def welcome_series() -> AutomationDesign:
    """What a new automation starts as: send, wait 2 days, branch on opened, a reminder."""
    return AutomationDesign(
        name="",
        steps=[
            StepDesign("send"),
            StepDesign("wait", wait_amount=2),
            StepDesign("branch", condition="opened", ref_step=0, then=4),
            StepDesign("send"),
        ],
    )


def _moved(target: int, at: int, by: int) -> int:
    return target + by if target >= at else target


def insert_step(steps: list[StepDesign], at: int, kind: str) -> None:
    """Insert a new step of ``kind`` at position ``at``; branches keep pointing at the steps
    they pointed at."""
    for step in steps:
        step.ref_step = _moved(step.ref_step, at, 1)
        step.then = _moved(step.then, at, 1)
        if step.otherwise is not None:
            step.otherwise = _moved(step.otherwise, at, 1)
    new = StepDesign(kind)
    if kind == "branch":
        new.then = len(steps) + 1  # the end, until the marketer picks a step
        earlier = [i for i, s in enumerate(steps[:at]) if s.kind == "send"]
        new.ref_step = earlier[-1] if earlier else 0
    steps.insert(at, new)


def remove_step(steps: list[StepDesign], at: int) -> None:
    """Remove step ``at``; a branch to it goes to the step that takes its place."""
    del steps[at]
    for step in steps:
        step.ref_step = step.ref_step - 1 if step.ref_step > at else step.ref_step
        step.then = step.then - 1 if step.then > at else step.then
        if step.otherwise is not None and step.otherwise > at:
            step.otherwise -= 1


def wait_text(step: StepDesign) -> str:
    """A wait step in words: "Wait 2 days", "Wait until Monday at 09:00"."""
    if step.wait_until:
        days = " or ".join(WEEKDAY_NAMES[d] for d in step.weekdays) or "the next day"
        return f"Wait until {days} at {step.time} (UTC)"
    return f"Wait {counted(step.wait_amount, step.wait_unit.removesuffix('s'))}"


def step_text(steps: list[StepDesign], index: int, templates: dict[int, str]) -> str:
    """What step ``index`` does, in one line (templates: id → name)."""
    step = steps[index]
    if step.kind == "send":
        name = templates.get(step.template_id or 0)
        return f"Send “{name}”" if name else "Send an email (choose its template)"
    if step.kind == "wait":
        return wait_text(step)
    if step.kind == "branch":
        if step.condition == "field":
            test = f"the field {step.field or '…'} is “{step.equals}”"
        else:
            test = f"the mail of step {step.ref_step + 1} was {step.condition}"
        then = "the end" if step.then >= len(steps) else f"step {step.then + 1}"
        return f"If {test}, go to {then}"
    if step.kind == "tag":
        what = "list" if step.tag.startswith("list:") else "tag"
        verb = "Add to" if step.action == "add" else "Remove from"
        return f"{verb} {what} {step.tag.removeprefix('list:') or '…'}"
    return "Exit the automation"


def trigger_text(trigger: TriggerDesign, lists: dict[int, str]) -> str:
    """How contacts enter, in one line (lists: id → name)."""
    if trigger.kind == "event":
        return f"When an app sends the event “{trigger.event or '…'}”"
    if trigger.kind == "date":
        days = abs(trigger.offset_days)
        when = (
            "On"
            if days == 0
            else f"{counted(days, 'day')} {'before' if trigger.offset_days < 0 else 'after'}"
        )
        return f"{when} the date in {trigger.field or '…'}, every year"
    names = [lists.get(i, "a deleted list") for i in trigger.list_ids]
    return "When someone confirms a signup" + (f" to {', '.join(names)}" if names else "")


@dataclass(frozen=True)
class TemplateText:
    """What a send step copies from its template."""

    name: str
    subject: str
    html: str
    text: str


def _send(step: StepDesign, number: int, templates: dict[int, TemplateText]) -> dict[str, Any]:
    template = templates.get(step.template_id or 0)
    if template is None:
        raise DesignError(f"Step {number} sends an email: choose its template.")
    if "@" not in step.from_address:
        raise DesignError(f"Step {number} sends an email: enter the From address.")
    if not template.subject or not (template.html or template.text):
        raise DesignError(f"Step {number}: the template “{template.name}” has no subject or body.")
    return {"kind": "send", "from_address": step.from_address.strip(),
            "from_name": step.from_name.strip(), "subject": template.subject,
            "html": template.html, "text": template.text}  # fmt: skip


def _wait(step: StepDesign, number: int) -> dict[str, Any]:
    if step.wait_until:
        return {"kind": "wait", "weekdays": list(step.weekdays), "time": step.time}
    if step.wait_amount < 1:
        raise DesignError(f"Step {number} waits: enter how long.")
    return {"kind": "wait", "seconds": step.wait_amount * WAIT_UNITS[step.wait_unit]}


def _branch(steps: list[StepDesign], index: int) -> dict[str, Any]:
    step, number = steps[index], index + 1
    out: dict[str, Any] = {"kind": "branch", "condition": step.condition, "then": step.then}
    if step.then <= index:
        raise DesignError(f"Step {number} can only go to a later step.")
    if step.otherwise is not None:
        out["otherwise"] = step.otherwise
    if step.condition == "field":
        if not step.field:
            raise DesignError(f"Step {number} checks a field: choose which.")
        out.update(field=step.field, equals=step.equals)
    else:
        if not (0 <= step.ref_step < index and steps[step.ref_step].kind == "send"):
            raise DesignError(f"Step {number} checks a mail: choose an earlier step that sends.")
        out["step"] = step.ref_step
    return out


def definition(design: AutomationDesign, templates: dict[int, TemplateText]) -> str:
    """The agent's definition JSON. Raises ``DesignError`` saying what to fix."""
    if not design.name.strip():
        raise DesignError("Give the automation a name.")
    if not design.steps:
        raise DesignError("Add at least one step.")
    t = design.trigger
    if t.kind == "event" and not t.event.strip():
        raise DesignError("Enter the name of the event your app sends.")
    if t.kind == "date" and not t.field:
        raise DesignError("Choose the date field that starts the automation.")
    trigger: dict[str, Any] = {"kind": t.kind}
    if t.kind == "signup" and t.list_ids:
        trigger["lists"] = [str(i) for i in t.list_ids]
    elif t.kind == "event":
        trigger["name"] = t.event.strip()
    elif t.kind == "date":
        trigger.update(field=t.field, offset_days=t.offset_days)
    steps: list[dict[str, Any]] = []
    for index, step in enumerate(design.steps):
        number = index + 1
        if step.kind == "send":
            steps.append(_send(step, number, templates))
        elif step.kind == "wait":
            steps.append(_wait(step, number))
        elif step.kind == "branch":
            steps.append(_branch(design.steps, index))
        elif step.kind == "tag":
            if not step.tag.strip():
                raise DesignError(f"Step {number}: enter the tag or choose the list.")
            steps.append({"kind": "tag", "action": step.action, "tag": step.tag.strip()})
        else:
            steps.append({"kind": "exit"})
    # A signup to a list is that list's mail: leaving the list stops the series too.
    tags = [f"list:{i}" for i in t.list_ids] if t.kind == "signup" else []
    body = {"trigger": trigger, "steps": steps, "tags": tags,
            "allow_reentry": design.allow_reentry}  # fmt: skip
    return json.dumps(body, sort_keys=True)
