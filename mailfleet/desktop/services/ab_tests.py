"""A campaign's A/B test as the desktop keeps it, and its results in plain words.

Qt-free and network-free. The wizard builds an :class:`AbPlan`, the campaign row keeps it as
JSON (``Campaign.ab_test``), the upload turns it into each agent's ``AbTest``; the result view
adds up what each agent reports per variant (:class:`VariantFigures`) and asks
``significance`` whether the leader's lead is more than chance. Each agent picks its own
part's winner (docs/ab-tests.md says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mailfleet.desktop.services import significance
from mailfleet.desktop.services.plurals import counted

LETTERS = "ABCD"
MAX_WAIT_HOURS = 720  # the agents' limit
CONFIDENCE = 0.95


class Vary(StrEnum):
    """What the variants differ in."""

    SUBJECT = "subject"
    FROM_NAME = "from_name"
    CONTENT = "content"


class Rule(StrEnum):
    """How the winner is picked."""

    OPENS = "opens"
    CLICKS = "clicks"
    MANUAL = "manual"


@dataclass(frozen=True)
class Variant:
    """What one variant changes; an empty field is the campaign's own."""

    subject: str = ""
    from_name: str = ""
    html: str = ""
    text: str = ""
    label: str = ""  # what the marketer chose it as, e.g. a template's name

    def to_json(self) -> dict[str, str]:
        """The form kept in ``Campaign.ab_test``."""
        return {
            "subject": self.subject,
            "from_name": self.from_name,
            "html": self.html,
            "text": self.text,
            "label": self.label,
        }


@dataclass(frozen=True)
class AbPlan:
    """An A/B test: 2-4 variants tried on ``test_percent`` % of the recipients, then the
    winner (by ``rule``, ``wait_hours`` after the start) to the rest."""

    vary: Vary
    variants: tuple[Variant, ...]
    test_percent: int = 20
    rule: Rule = Rule.CLICKS
    wait_hours: int = 4

    def problem(self) -> str | None:
        """Why the agents would refuse this test, in words; None when it is fine."""
        if not 2 <= len(self.variants) <= len(LETTERS):
            return "an A/B test has 2 to 4 variants"
        if not 1 <= self.test_percent <= 100:
            return "the test share is 1 to 100 %"
        if self.rule is not Rule.MANUAL and not 1 <= self.wait_hours <= MAX_WAIT_HOURS:
            return f"the winner is picked 1 to {MAX_WAIT_HOURS} hours after the start"
        for letter, v in zip(LETTERS, self.variants, strict=False):
            if self.vary is Vary.SUBJECT and not v.subject.strip():
                return f"variant {letter} has no subject"
            if self.vary is Vary.FROM_NAME and not v.from_name.strip():
                return f"variant {letter} has no From name"
            if self.vary is Vary.CONTENT and not (v.html.strip() or v.text.strip()):
                return f"variant {letter} has no content"
        return None

    def to_json(self) -> dict[str, Any]:
        """The form kept in ``Campaign.ab_test``."""
        return {
            "vary": self.vary.value,
            "variants": [v.to_json() for v in self.variants],
            "test_percent": self.test_percent,
            "rule": self.rule.value,
            "wait_hours": self.wait_hours,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> AbPlan | None:
        """The plan kept in ``Campaign.ab_test``; None for a campaign without a test."""
        if not data:
            return None
        return cls(
            Vary(data["vary"]),
            tuple(Variant(**v) for v in data["variants"]),
            int(data["test_percent"]),
            Rule(data["rule"]),
            int(data["wait_hours"]),
        )

    def describe(self, letter_index: int) -> str:
        """What variant ``letter_index`` is, for a table: its subject, From name or label."""
        v = self.variants[letter_index]
        if self.vary is Vary.SUBJECT:
            return v.subject
        if self.vary is Vary.FROM_NAME:
            return v.from_name
        return v.label or "its own content"

    def heading(self) -> str:
        """What the test varies, on whom, and how it ends, for the result view."""
        what = {Vary.SUBJECT: "Subject", Vary.FROM_NAME: "From name", Vary.CONTENT: "Content"}
        ends = (
            "you pick the winner"
            if self.rule is Rule.MANUAL
            else f"the variant with the most {self.rule.value} wins "
            f"{counted(self.wait_hours, 'hour')} after the start"
        )
        return (
            f"{what[self.vary]} tested on {self.test_percent} % of the recipients; {ends}. "
            "The figures are the test share's, over every agent."
        )

    def summary(self, recipients: int) -> str:
        """One sentence: who tries what, and what happens after."""
        share = recipients * self.test_percent // 100
        n = len(self.variants)
        rest = recipients - share
        tries = (
            f"{self.test_percent} % of the recipients (about {share:,}) try {n} variants, "
            f"about {share // n:,} each"
        )
        if self.test_percent == 100:
            return tries + "; there is no rest to send a winner to."
        if self.rule is Rule.MANUAL:
            return f"{tries}; the rest ({rest:,}) wait until you pick the winner."
        best = "most opens" if self.rule is Rule.OPENS else "most clicks"
        after = counted(self.wait_hours, "hour")
        return f"{tries}; after {after} the rest ({rest:,}) get the variant with the {best}."


@dataclass(frozen=True)
class VariantFigures:
    """One variant's test-share figures: delivered, opened and clicked by people."""

    sent: int = 0
    opened: int = 0
    clicked: int = 0

    def __add__(self, other: VariantFigures) -> VariantFigures:
        return VariantFigures(
            self.sent + other.sent, self.opened + other.opened, self.clicked + other.clicked
        )

    def rate(self, rule: Rule) -> float:
        """Opened (the opens rule) or clicked (otherwise) per message sent."""
        hits = self.opened if rule is Rule.OPENS else self.clicked
        return hits / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class PartResult:
    """What one agent reports about its part's test."""

    agent: str
    figures: tuple[VariantFigures, ...]
    winner: int | None  # the variant it picked, None while undecided


def fleet_figures(parts: Sequence[PartResult], variants: int) -> tuple[VariantFigures, ...]:
    """Each variant's figures over every agent's part."""
    totals = [VariantFigures() for _ in range(variants)]
    for part in parts:
        for i, f in enumerate(part.figures[:variants]):
            totals[i] = totals[i] + f
    return tuple(totals)


def verdict_text(figures: Sequence[VariantFigures], rule: Rule) -> str:
    """Whether the leader's lead is real, for a marketer: "Variant B is ahead, but the
    difference could still be chance" or "Variant B wins with 95 % confidence"."""
    samples = [
        significance.Sample(f.opened if rule is Rule.OPENS else f.clicked, f.sent) for f in figures
    ]
    if not any(s.trials for s in samples):
        return "Nothing delivered yet: no variant is ahead."
    verdict = significance.verdict(samples, CONFIDENCE)
    what = "opens" if rule is Rule.OPENS else "clicks"
    if not any(s.successes for s in samples):
        return f"No {what} yet: no variant is ahead."
    leader = LETTERS[verdict.leader]
    if not verdict.significant:
        return (
            f"Variant {leader} is ahead on {what}, but the difference could still be chance: "
            "don't draw a lesson from it yet."
        )
    return f"Variant {leader} wins on {what} with {CONFIDENCE:.0%} confidence."


def winner_text(parts: Sequence[PartResult]) -> str:
    """The winner as the agents picked it: one letter, or which agent picked which."""
    picked = {p.winner for p in parts}
    if picked <= {None}:
        return "No winner yet."
    if len(picked) == 1:
        letter = LETTERS[next(w for w in picked if w is not None)]
        return f"Winner: variant {letter}; the rest is sent variant {letter}."
    return "Winners: " + "; ".join(f"{p.agent} {_picked(p.winner)}" for p in parts) + "."


def _picked(winner: int | None) -> str:
    return "has not picked one yet" if winner is None else f"picked variant {LETTERS[winner]}"
