"""Whether an A/B test's difference is real or noise: the two-proportion z-test.

Qt-free and network-free. Each variant is a count of successes (opens or clicks) out of the
messages sent with it; the test asks whether the leader's rate beats each other variant's by
more than chance would. With more than two variants the leader is compared with every other
one and the significance level is divided among those comparisons (Bonferroni), so a
four-way test is not four chances to be fooled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One variant's result: ``successes`` (opened or clicked) of ``trials`` (sent)."""

    successes: int
    trials: int

    @property
    def rate(self) -> float:
        """successes / trials; 0 when nothing was sent."""
        return self.successes / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class Comparison:
    """A two-proportion z-test of ``a`` against ``b``."""

    z: float  # positive when a's rate is the higher one
    p_value: float  # two-sided: the chance of a difference at least this big if there is none


def compare(a: Sample, b: Sample) -> Comparison:
    """The pooled two-proportion z-test of ``a`` against ``b``.

    With no data on one side, or no variation at all (nobody or everybody succeeded in both),
    there is no evidence of a difference: z = 0, p = 1.
    """
    for s in (a, b):
        if s.trials < 0 or not 0 <= s.successes <= s.trials:
            raise ValueError(f"{s.successes} successes of {s.trials} trials is not a sample")
    if not a.trials or not b.trials:
        return Comparison(0.0, 1.0)
    pooled = (a.successes + b.successes) / (a.trials + b.trials)
    variance = pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials)
    if variance == 0:
        return Comparison(0.0, 1.0)
    z = (a.rate - b.rate) / math.sqrt(variance)
    return Comparison(z, math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True)
class Verdict:
    """What a test's samples say: who leads, and whether the lead is more than noise."""

    leader: int  # index of the variant with the highest rate (the first of equals)
    significant: bool  # the leader beats every other variant at the chosen confidence
    p_value: float  # the largest p-value of the leader's comparisons (1.0 with one variant)


def verdict(samples: Sequence[Sample], confidence: float = 0.95) -> Verdict:
    """Compare the leader of ``samples`` with each other one at ``confidence``
    (0.95: a difference called real is chance at most 5 times in 100)."""
    if not samples:
        raise ValueError("a test needs at least one variant")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence} is not between 0 and 1")
    leader = max(range(len(samples)), key=lambda i: (samples[i].rate, -i))
    others = [s for i, s in enumerate(samples) if i != leader]
    if not others:
        return Verdict(leader, False, 1.0)
    worst = max(compare(samples[leader], s).p_value for s in others)
    alpha = (1 - confidence) / len(others)
    return Verdict(leader, worst < alpha, worst)
