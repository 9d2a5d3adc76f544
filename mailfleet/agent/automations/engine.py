"""The step engine: where one enrolment's walk goes from its next step, at a given time.

Pure: no SQL, no network, no clock of its own. It runs the steps that take no time (send,
tag, branch, exit) in order until a wait or the end, and says what they asked for; the
caller (:mod:`mailfleet.agent.automations.advance`) queues the messages and records the move in
one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailfleet.agent.automations.definition import (
    WEEKDAYS,
    BranchStep,
    Definition,
    ExitStep,
    SendStep,
    TagStep,
    WaitStep,
)


@dataclass(frozen=True)
class Engagement:
    """Which earlier send steps' messages the contact opened and clicked."""

    opened: frozenset[int] = frozenset()
    clicked: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Plan:
    """What one walk did: the steps it ran, in order, and where the enrolment goes."""

    ran: tuple[int, ...]
    sends: tuple[int, ...]  # the send steps among them
    tags: tuple[TagStep, ...]
    step: int  # the next step to run when waiting; the step it ended at when ended
    ended: bool
    exited: bool = False  # ended at an exit step
    next_at: float = 0.0  # when waiting, when to go on


def wait_until(step: WaitStep, now: float) -> float:
    """When a wait that starts at ``now`` ends."""
    if step.seconds:
        return now + step.seconds
    start = dt.datetime.fromtimestamp(now, dt.UTC)
    hour, minute = (int(p) for p in (step.time or "00:00").split(":"))
    days = {WEEKDAYS.index(d) for d in step.weekdays} or set(range(7))
    for ahead in range(8):
        day = start.date() + dt.timedelta(days=ahead)
        moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)
        if moment.timestamp() > now and day.weekday() in days:
            return moment.timestamp()
    raise AssertionError("a week always holds one of the days")


def _holds(step: BranchStep, fields: dict[str, str], seen: Engagement) -> bool:
    if step.condition == "opened":
        # A click is an open the pixel missed (images off): it counts as one.
        return step.step in seen.opened or step.step in seen.clicked
    if step.condition == "clicked":
        return step.step in seen.clicked
    return fields.get(step.field, "") == step.equals


def walk(
    definition: Definition, start: int, fields: dict[str, str], seen: Engagement, now: float
) -> Plan:
    """Run from step ``start`` until a wait or the end of the walk."""
    ran: list[int] = []
    sends: list[int] = []
    tags: list[TagStep] = []
    i = start
    steps = definition.steps
    while i < len(steps):
        step = steps[i]
        ran.append(i)
        if isinstance(step, WaitStep):
            until = wait_until(step, now)
            return Plan(tuple(ran), tuple(sends), tuple(tags), i + 1, False, next_at=until)
        if isinstance(step, ExitStep):
            return Plan(tuple(ran), tuple(sends), tuple(tags), i, True, exited=True)
        if isinstance(step, SendStep):
            sends.append(i)
        elif isinstance(step, TagStep):
            tags.append(step)
        elif isinstance(step, BranchStep):
            target = step.then if _holds(step, fields, seen) else step.otherwise
            i = i + 1 if target is None else target
            continue
        i += 1
    last = ran[-1] if ran else len(steps) - 1
    return Plan(tuple(ran), tuple(sends), tuple(tags), last, True)
