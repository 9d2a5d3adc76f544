"""The designer's model: branches follow their steps when steps are added or removed, and the
agent's definition is built from it, or refused in words saying which step to fix."""

from __future__ import annotations

import json

import pytest

from mailfleet.agent.automations.definition import parse
from mailfleet.desktop.services.automation_design import (
    AutomationDesign,
    DesignError,
    StepDesign,
    TemplateText,
    TriggerDesign,
    definition,
    insert_step,
    remove_step,
    step_text,
    welcome_series,
)

_TEMPLATES = {7: TemplateText("Welcome", "Hi {{ first_name }}", "<p>Hello</p>", "")}


def _filled() -> AutomationDesign:
    design = welcome_series()
    design.name = "Welcome"
    design.trigger = TriggerDesign("signup", list_ids=[3])
    for step in (design.steps[0], design.steps[3]):
        step.template_id, step.from_address = 7, "news@shop.example"
    return design


def test_a_branch_keeps_pointing_at_its_steps_when_steps_move() -> None:
    design = _filled()
    insert_step(design.steps, 1, "tag")  # before the wait
    branch = design.steps[3]
    assert (branch.kind, branch.ref_step, branch.then) == ("branch", 0, 5)
    insert_step(design.steps, 0, "wait")  # before the first send
    assert (branch.ref_step, branch.then) == (1, 6)
    remove_step(design.steps, 0)
    remove_step(design.steps, 1)
    assert (branch.ref_step, branch.then) == (0, 4)
    assert step_text(design.steps, 2, {7: "Welcome"}) == (
        "If the mail of step 1 was opened, go to the end"
    )


def test_the_definition_is_one_the_agent_accepts() -> None:
    built = definition(_filled(), _TEMPLATES)
    parsed = parse(built)  # the agent's own reader
    assert [s.kind for s in parsed.steps] == ["send", "wait", "branch", "send"]
    body = json.loads(built)
    assert body["trigger"] == {"kind": "signup", "lists": ["3"]}
    assert body["tags"] == ["list:3"]  # leaving the list stops the series
    assert body["steps"][1] == {"kind": "wait", "seconds": 2 * 86400}
    assert body["steps"][0]["subject"] == "Hi {{ first_name }}"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: setattr(d.steps[3], "template_id", None), "Step 4 sends an email: choose"),
        (lambda d: setattr(d.steps[0], "from_address", ""), "Step 1 sends an email: enter"),
        (lambda d: setattr(d.steps[2], "ref_step", 1), "Step 3 checks a mail: choose an"),
        (lambda d: setattr(d, "name", " "), "Give the automation a name."),
        (lambda d: setattr(d, "trigger", TriggerDesign("event")), "Enter the name of the event"),
        (lambda d: d.steps.append(StepDesign("tag")), "Step 5: enter the tag or choose"),
    ],
)
def test_a_design_that_could_not_run_is_refused_in_words(change: object, words: str) -> None:
    design = _filled()
    assert callable(change)
    change(design)
    with pytest.raises(DesignError, match=words):
        definition(design, _TEMPLATES)


def test_a_design_survives_the_database_round_trip() -> None:
    design = _filled()
    design.steps[1].wait_until, design.steps[1].weekdays = True, ["mon", "fri"]
    again = AutomationDesign.from_json(json.loads(json.dumps(design.to_json())))
    assert again == design
    assert step_text(again.steps, 1, {}) == "Wait until Monday or Friday at 09:00 (UTC)"
