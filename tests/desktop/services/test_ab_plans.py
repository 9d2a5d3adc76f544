"""The desktop's A/B plans and their results in words: what the agents would refuse, the
fleet's figures summed over parts, the verdict's confidence and the winner each agent picked."""

from __future__ import annotations

import pytest

from mailfleet.desktop.services.ab_tests import (
    AbPlan,
    PartResult,
    Rule,
    Variant,
    VariantFigures,
    Vary,
    fleet_figures,
    verdict_text,
    winner_text,
)

SUBJECTS = AbPlan(Vary.SUBJECT, (Variant(subject="A"), Variant(subject="B")), 20, Rule.CLICKS, 4)


def test_a_plan_is_kept_as_json_and_read_back_whole() -> None:
    content = AbPlan(
        Vary.CONTENT,
        (Variant(html="<p>a</p>", label="Spring"), Variant(text="b", label="Plain")),
        50,
        Rule.MANUAL,
        1,
    )
    for plan in (SUBJECTS, content):
        assert AbPlan.from_json(plan.to_json()) == plan
    assert AbPlan.from_json(None) is None


@pytest.mark.parametrize(
    ("plan", "problem"),
    [
        (AbPlan(Vary.SUBJECT, (Variant(subject="A"),)), "an A/B test has 2 to 4 variants"),
        (AbPlan(Vary.SUBJECT, (Variant(subject="A"), Variant())), "variant B has no subject"),
        (
            AbPlan(Vary.FROM_NAME, (Variant(from_name="Ann"), Variant(subject="x"))),
            "variant B has no From name",
        ),
        (AbPlan(Vary.CONTENT, (Variant(html="<p>a</p>"), Variant())), "variant B has no content"),
        (AbPlan(Vary.SUBJECT, SUBJECTS.variants, 0), "the test share is 1 to 100 %"),
        (
            AbPlan(Vary.SUBJECT, SUBJECTS.variants, 20, Rule.OPENS, 721),
            "the winner is picked 1 to 720 hours after the start",
        ),
        (AbPlan(Vary.SUBJECT, SUBJECTS.variants, 20, Rule.MANUAL, 0), None),
    ],
)
def test_what_the_agents_would_refuse_is_said_first(plan: AbPlan, problem: str | None) -> None:
    assert plan.problem() == problem


def test_the_summary_says_who_tries_what_and_what_follows() -> None:
    assert SUBJECTS.summary(1000) == (
        "20 % of the recipients (about 200) try 2 variants, about 100 each; after 4 hours the "
        "rest (800) get the variant with the most clicks."
    )
    manual = AbPlan(Vary.SUBJECT, SUBJECTS.variants, 10, Rule.MANUAL, 1)
    assert manual.summary(100).endswith("the rest (90) wait until you pick the winner.")
    assert SUBJECTS.heading() == (
        "Subject tested on 20 % of the recipients; the variant with the most clicks wins "
        "4 hours after the start. The figures are the test share's, over every agent."
    )
    assert manual.heading().startswith("Subject tested on 10 % of the recipients; you pick")


def test_the_fleets_figures_add_up_every_agents_part() -> None:
    parts = [
        PartResult("Paris", (VariantFigures(10, 5, 2), VariantFigures(10, 6, 3)), None),
        PartResult("Oslo", (VariantFigures(5, 1, 1), VariantFigures(5, 2, 0)), None),
    ]
    assert fleet_figures(parts, 2) == (VariantFigures(15, 6, 3), VariantFigures(15, 8, 3))


def test_a_small_lead_is_called_chance_and_a_large_one_a_win() -> None:
    small = [VariantFigures(2, 0, 0), VariantFigures(2, 1, 1)]
    assert verdict_text(small, Rule.CLICKS) == (
        "Variant B is ahead on clicks, but the difference could still be chance: "
        "don't draw a lesson from it yet."
    )
    large = [VariantFigures(200, 60, 10), VariantFigures(200, 20, 12)]
    assert verdict_text(large, Rule.OPENS) == "Variant A wins on opens with 95% confidence."
    # The same figures judged on clicks: 10 against 12 of 200 is noise.
    assert verdict_text(large, Rule.CLICKS).startswith("Variant B is ahead on clicks, but")
    assert verdict_text([VariantFigures(), VariantFigures()], Rule.CLICKS) == (
        "Nothing delivered yet: no variant is ahead."
    )
    assert verdict_text([VariantFigures(5), VariantFigures(5)], Rule.OPENS) == (
        "No opens yet: no variant is ahead."
    )


def test_the_winner_is_one_letter_or_what_each_agent_picked() -> None:
    def part(agent: str, winner: int | None) -> PartResult:
        return PartResult(agent, (), winner)

    assert winner_text([]) == "No winner yet."
    assert winner_text([part("Paris", None), part("Oslo", None)]) == "No winner yet."
    assert winner_text([part("Paris", 1), part("Oslo", 1)]) == (
        "Winner: variant B; the rest is sent variant B."
    )
    assert winner_text([part("Paris", 1), part("Oslo", 0), part("Rome", None)]) == (
        "Winners: Paris picked variant B; Oslo picked variant A; Rome has not picked one yet."
    )
