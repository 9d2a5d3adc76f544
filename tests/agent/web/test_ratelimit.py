"""The per-client token bucket."""

from __future__ import annotations

from mailfleet.agent.web.ratelimit import RateLimiter


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_capped_then_refills_with_time() -> None:
    clock = _Clock()
    limiter = RateLimiter(60, clock)
    assert all(limiter.allow("a") for _ in range(60))
    assert not limiter.allow("a")
    clock.now = 1.0  # one second buys one request at 60 per minute
    assert limiter.allow("a")
    assert not limiter.allow("a")


def test_clients_have_separate_budgets() -> None:
    limiter = RateLimiter(2, _Clock())
    assert limiter.allow("a") and limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")


def test_idle_clients_are_forgotten_when_the_table_is_full() -> None:
    clock = _Clock()
    limiter = RateLimiter(60, clock, max_keys=2)
    limiter.allow("a")
    limiter.allow("b")
    clock.now = 120.0  # both buckets are full again: nothing to remember
    limiter.allow("c")
    assert len(limiter._buckets) == 1
