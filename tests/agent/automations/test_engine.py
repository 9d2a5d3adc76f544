"""The pure step engine and the definitions it reads: walks, waits, branches, checks."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mailfleet.agent.automations.definition import WaitStep, parse
from mailfleet.agent.automations.engine import Engagement, wait_until, walk
from mailfleet.agent.errors import InvalidArgument
from tests.agent.automations.rules import DAY, send, welcome_series

NOW = dt.datetime(2026, 12, 8, 10, 30, tzinfo=dt.UTC).timestamp()  # a Tuesday


def test_a_walk_runs_to_the_first_wait_and_resumes_after_it() -> None:
    rules = parse(welcome_series())
    first = walk(rules, 0, {}, Engagement(), NOW)
    assert (first.ran, first.sends, first.step, first.ended) == ((0, 1), (0,), 2, False)
    assert first.next_at == NOW + 2 * DAY


def test_a_branch_on_opened_goes_to_then_and_otherwise_to_the_next_step() -> None:
    rules = parse(welcome_series())
    opened = walk(rules, 2, {}, Engagement(opened=frozenset({0})), NOW)
    assert (opened.ran, opened.sends, opened.ended, opened.exited) == ((2, 5), (5,), True, False)
    clicked = walk(rules, 2, {}, Engagement(clicked=frozenset({0})), NOW)
    assert clicked.sends == (5,)  # a click is an open the pixel missed
    not_opened = walk(rules, 2, {}, Engagement(), NOW)
    assert (not_opened.ran, not_opened.sends, not_opened.step) == ((2, 3, 4), (3,), 4)
    assert not_opened.exited


def test_a_field_branch_and_tag_steps() -> None:
    rules = parse(
        json.dumps(
            {
                "trigger": {"kind": "event", "name": "order_placed"},
                "steps": [
                    {
                        "kind": "branch",
                        "condition": "field",
                        "field": "tier",
                        "equals": "gold",
                        "then": 2,
                    },
                    {"kind": "exit"},
                    {"kind": "tag", "action": "add", "tag": "list:vip"},
                    send("Thank you, gold member"),
                ],
            }
        )
    )
    gold = walk(rules, 0, {"tier": "gold"}, Engagement(), NOW)
    assert gold.sends == (3,) and [t.tag for t in gold.tags] == ["list:vip"]
    other = walk(rules, 0, {"tier": "silver"}, Engagement(), NOW)
    assert other.exited and other.sends == ()


def test_wait_until_a_weekday_and_time() -> None:
    friday_nine = dt.datetime(2026, 12, 11, 9, 0, tzinfo=dt.UTC).timestamp()
    assert wait_until(WaitStep(kind="wait", weekdays=("fri",), time="09:00"), NOW) == friday_nine
    later_today = dt.datetime(2026, 12, 8, 17, 0, tzinfo=dt.UTC).timestamp()
    assert wait_until(WaitStep(kind="wait", time="17:00"), NOW) == later_today
    next_tuesday = dt.datetime(2026, 12, 15, 10, 0, tzinfo=dt.UTC).timestamp()
    assert wait_until(WaitStep(kind="wait", weekdays=("tue",), time="10:00"), NOW) == next_tuesday


@pytest.mark.parametrize(
    ("steps", "says"),
    [
        ([{"kind": "branch", "condition": "field", "field": "x", "then": 0}], "later step"),
        (
            [send("a"), {"kind": "branch", "condition": "opened", "step": 1, "then": 2}],
            "earlier send",
        ),
        ([{"kind": "wait"}], "needs seconds"),
        ([{"kind": "send", "from_address": "a@b.example", "subject": "s"}], "html or text"),
        ([{"kind": "jump"}], "steps.0"),
    ],
)
def test_definitions_that_could_not_run_are_refused(steps: list[object], says: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse(json.dumps({"trigger": {"kind": "signup"}, "steps": steps}))
    assert says in str(caught.value)
