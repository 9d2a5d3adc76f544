"""Suspensions on an ISP's documented throttling reply: the domain waits the ISP's time, and
longer each time it answers so again soon after it resumes."""

from __future__ import annotations

from mailfleet.agent.delivery.throttle_suspensions import ThrottleSuspensions
from mailfleet.agent.routes.settings import BackoffSettings, LimitsSettings
from mailfleet.agent.store.suspensions import EVERY_TENANT, Kind

GMAIL = "421 4.7.28 [192.0.2.5] Our system has detected an unusual rate of unsolicited mail"


def lengths(limits: LimitsSettings, times: list[float]) -> list[float | None]:
    made = ThrottleSuspensions(limits)
    found: list[float | None] = []
    for now in times:
        s = made.observe("gmail.com", GMAIL, now, suspended=False)
        found.append(None if s is None else (s.until or 0.0) - s.created_at)
    return found


def test_a_throttling_reply_suspends_its_domain_for_every_tenant() -> None:
    made = ThrottleSuspensions(LimitsSettings())
    s = made.observe("gmail.com", GMAIL, 1000.0, suspended=False)
    assert s is not None
    assert (s.tenant_id, s.kind, s.name, s.until) == (
        EVERY_TENANT,
        Kind.DOMAIN,
        "gmail.com",
        2800.0,
    )
    assert s.reason == (
        "paused automatically for 30 minutes: Gmail answered 421 4.7.28"
        " (it limits the mail it takes from this sender's address for now)"
    )
    assert made.observe("gmail.com", GMAIL, 1001.0, suspended=True) is None
    assert made.observe("gmail.com", "451 4.3.0 Try later", 1001.0, suspended=False) is None
    assert (
        ThrottleSuspensions(LimitsSettings(isp_defaults=False)).observe(
            "gmail.com", GMAIL, 1.0, suspended=False
        )
        is None
    )


def test_it_doubles_when_throttled_again_soon_up_to_the_cap_and_starts_over_after_quiet() -> None:
    limits = LimitsSettings(
        isps={"gmail": {"suspend_seconds": 10}},
        backoff=BackoffSettings(max_suspend_seconds=35),
    )
    # Each reply comes just after the last suspension ended; then one long after.
    assert lengths(limits, [0, 11, 32, 73, 109, 500]) == [10, 20, 35, 35, 35, 10]
