"""Suspensions the agent makes itself, when an ISP answers with a throttling reply it documents
(Gmail's 421 4.7.28, Microsoft's 451 4.7.650, Yahoo's [TSS04]: ``routes/isp_defaults.toml``).

The recipient domain is suspended for every tenant for the ISP's time; if it answers so again
soon after it resumes (within as long as it was suspended), the next suspension is twice as
long, up to ``[limits.backoff] max_suspend_seconds``. Pure: the clock comes in as an argument.
"""

from __future__ import annotations

from mailfleet.agent.routes.isps import Throttling, throttled_by, throttling
from mailfleet.agent.routes.settings import LimitsSettings
from mailfleet.agent.store.suspensions import EVERY_TENANT, Kind, Suspension


def _words(seconds: float) -> str:
    """A length as people say it: "45 seconds", "1 minute", "2 hours" (rounded down)."""
    n, unit = max(1, int(seconds)), "second"
    for name, size in (("hour", 3600), ("minute", 60)):
        if n >= size:
            n, unit = n // size, name
            break
    return f"{n} {unit}{'' if n == 1 else 's'}"


class ThrottleSuspensions:
    """Which throttling replies suspend their domain, and for how long."""

    def __init__(self, limits: LimitsSettings) -> None:
        self._rules: tuple[Throttling, ...] = ()
        self._max = 0.0
        # domain -> (length, end) of its last automatic suspension
        self._last: dict[str, tuple[float, float]] = {}
        self.reload(limits)

    def reload(self, limits: LimitsSettings) -> None:
        """Use new limits (SIGHUP); what each domain went through is kept."""
        self._rules = throttling(limits)
        self._max = limits.backoff.max_suspend_seconds

    def observe(self, domain: str, reply: str, now: float, suspended: bool) -> Suspension | None:
        """The suspension a deferral's ``reply`` from ``domain`` calls for, if any
        (``suspended``: the domain is already held back, so none)."""
        if suspended or not self._rules:
            return None
        rule = throttled_by(reply, self._rules)
        if rule is None:
            return None
        length = rule.seconds
        last = self._last.get(domain)
        if last is not None and now - last[1] < last[0]:
            length = min(self._max, max(length, 2 * last[0]))
        self._forget(now)
        self._last[domain] = (length, now + length)
        reason = (
            f"paused automatically for {_words(length)}: {rule.isp} answered {rule.code}"
            f" ({rule.means})"
        )
        return Suspension(EVERY_TENANT, Kind.DOMAIN, domain, reason, now, now + length)

    def _forget(self, now: float) -> None:
        """Drop domains quiet for longer than they were last suspended: a new reply from them
        starts at the ISP's first length again."""
        if len(self._last) > 1000:
            self._last = {d: (n, end) for d, (n, end) in self._last.items() if now - end < n}
