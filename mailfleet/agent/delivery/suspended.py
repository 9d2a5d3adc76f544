"""The suspensions in force, in memory: what the scheduler's claims and the workers hold back.

The store keeps the suspensions (``mailfleet.agent.store.suspensions``); the API changes them there
and then here, and the scheduler reads them here at every claim, so holding mail back costs no
query. Each change (and each suspension that lifts by itself) gives a new ``version``, with
which the workers are sent the new set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mailfleet.agent.store.suspensions import Holds, Suspension


class Suspended:
    """The suspensions in force and the holds they make, refreshed when one lifts by itself."""

    def __init__(self, suspensions: Sequence[Suspension] = ()) -> None:
        self.version = 0
        self._all: tuple[Suspension, ...] = ()
        self._holds = Holds()
        self._next_change = math.inf
        self.replace(suspensions)

    def replace(self, suspensions: Sequence[Suspension]) -> None:
        """Put ``suspensions`` (all of them, as the store has them now) in force."""
        self._all = tuple(suspensions)
        self._refresh(0.0)

    @property
    def all(self) -> tuple[Suspension, ...]:
        """Every suspension last put in force, lifted by itself or not."""
        return self._all

    def holds(self, now: float) -> Holds:
        """What is held back at ``now``."""
        if now >= self._next_change:
            self._refresh(now)
        return self._holds

    def _refresh(self, now: float) -> None:
        live = [s for s in self._all if s.in_force(now)]
        self._holds = Holds.of(live, now)
        self._next_change = min((s.until for s in live if s.until is not None), default=math.inf)
        self.version += 1
