"""When will a campaign finish? Its remaining recipients, the rules, and the warm-up plans of
the IP pools their routes send from (pure: counts and the clock come in as arguments).

Routes without a daily limit (relays, ESPs, direct MX from unlimited addresses) are assumed to
finish today; a pool's share finishes on the day its addresses' summed quotas cover it.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass

from mailfleet.agent.routes.settings import (
    DirectMxRoute,
    IpPoolsSettings,
    RouteSettings,
    SplitRoute,
)
from mailfleet.agent.routes.source_ips import warmup_quota
from mailfleet.agent.routing.rules import MessageFacts, RoutingTable, choose

_MAX_DAYS = 3650


@dataclass(frozen=True)
class RouteEstimate:
    """One route's share of the campaign."""

    route: str
    pool: str  # the IP pool it sends from, or ""
    remaining: int
    today_capacity: int | None  # messages the pool may still send today; None: no limit
    finish_by: datetime.datetime  # UTC


@dataclass(frozen=True)
class Estimate:
    """The whole campaign."""

    remaining: int
    finish_by: datetime.datetime
    routes: list[RouteEstimate]


def _end_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
    )


def _shares(route: str, count: int, routes: Mapping[str, RouteSettings]) -> dict[str, float]:
    config = routes.get(route)
    if isinstance(config, SplitRoute):
        total = sum(config.routes.values())
        return {name: count * w / total for name, w in config.routes.items() if w}
    return {route: float(count)}


def pool_capacity(pools: IpPoolsSettings, pool: str, day: datetime.date) -> int | None:
    """Messages the pool's addresses may send on ``day`` (None: no limit)."""
    total = 0
    for entry in pools.pools[pool].addresses:
        if not entry.warmup or entry.warmup_start is None:
            return None
        quota = warmup_quota(pools.plans[entry.warmup], entry.warmup_start, day)
        if quota is None:
            return None
        total += quota
    return total


def finish_day(
    pools: IpPoolsSettings, pool: str, remaining: int, today: datetime.date, sent_today: int
) -> datetime.date:
    """The day the pool has sent ``remaining`` more messages, ``sent_today`` already used."""
    left = remaining
    for offset in range(_MAX_DAYS):
        day = today + datetime.timedelta(days=offset)
        capacity = pool_capacity(pools, pool, day)
        if capacity is None:
            return day
        if offset == 0:
            capacity = max(0, capacity - sent_today)
        left -= capacity
        if left <= 0:
            return day
    return today + datetime.timedelta(days=_MAX_DAYS)


def estimate(
    *,
    by_domain: Mapping[str, int],
    facts: MessageFacts,
    table: RoutingTable,
    routes: Mapping[str, RouteSettings],
    pools: IpPoolsSettings,
    now: datetime.datetime,
    sent_today: Mapping[str, int],
    throttle_per_minute: int = 0,
) -> Estimate:
    """The finish of a campaign with ``by_domain`` recipients left (MX rollup rules cannot be
    judged without DNS here and are passed over)."""
    per_route: dict[str, float] = {}
    for domain, count in by_domain.items():
        plan = choose(
            table,
            MessageFacts(
                facts.tenant, facts.sender_domain, domain, facts.tags, facts.transactional
            ),
        )
        for name, share in _shares(plan.route, count, routes).items():
            per_route[name] = per_route.get(name, 0.0) + share
    today = now.date()
    found = []
    for name, share in sorted(per_route.items()):
        count = math.ceil(share)
        config = routes.get(name)
        pool = config.pool if isinstance(config, DirectMxRoute) else ""
        if pool and pool in pools.pools:
            used = sent_today.get(pool, 0)
            capacity = pool_capacity(pools, pool, today)
            left_today = None if capacity is None else max(0, capacity - used)
            finish = _end_of(finish_day(pools, pool, count, today, used))
        else:
            left_today, finish = None, now
        if throttle_per_minute:
            finish = max(finish, now + datetime.timedelta(minutes=count / throttle_per_minute))
        found.append(RouteEstimate(name, pool, count, left_today, finish))
    total = sum(by_domain.values())
    overall = max((r.finish_by for r in found), default=now)
    if throttle_per_minute:
        overall = max(overall, now + datetime.timedelta(minutes=total / throttle_per_minute))
    return Estimate(total, overall, found)
