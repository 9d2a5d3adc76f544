"""The wizard's estimate of when a campaign finishes: the agents' rate under the throttle,
only inside its send window, and an A/B test's wait for its winner.

Qt-free. The rate is what the agents report (messages per minute, summed over the chosen
ones); the estimate is a plan, not a promise: opens, clicks and deferrals change it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mailfleet.desktop.services.ab_tests import AbPlan, Rule
from mailfleet.desktop.services.send_windows import SendWindow


def estimate_minutes(recipients: int, rates_per_minute: list[float], throttle: int) -> float | None:
    """Minutes to send ``recipients`` at the agents' combined rate, capped by the throttle;
    None when nothing is known about the rate."""
    rate = sum(rates_per_minute)
    if throttle:
        rate = min(rate, throttle) if rate else float(throttle)
    return recipients / rate if rate > 0 else None


def _sent_by(start: datetime, minutes: float, window: SendWindow | None) -> datetime | None:
    if window is None:
        return start + timedelta(minutes=minutes)
    return window.finish(start, minutes)


def finish_at(
    start: datetime,
    recipients: int,
    minutes_per_recipient: float,
    window: SendWindow | None = None,
    ab_test: AbPlan | None = None,
) -> datetime | None:
    """When the last message goes, sending from ``start`` (aware) at ``minutes_per_recipient``;
    with an A/B test, when the winner's last one goes (the rest waits for the decision), or,
    under the manual rule, when the test share's last one goes. None: over a year away."""
    if ab_test is None or ab_test.test_percent == 100:
        return _sent_by(start, recipients * minutes_per_recipient, window)
    share = recipients * ab_test.test_percent // 100
    share_done = _sent_by(start, share * minutes_per_recipient, window)
    if ab_test.rule is Rule.MANUAL or share_done is None:
        return share_done
    decided = max(share_done, start + timedelta(hours=ab_test.wait_hours))
    return _sent_by(decided, (recipients - share) * minutes_per_recipient, window)
