"""IP pools for direct MX: weighted round robin over source addresses, within each address's
warm-up plan (messages per day, growing day by day).

Like every route limit, a day's quota is shared out between the worker processes: each takes
its part. What an address sent today is kept in a small file per worker, so a restart does not
hand out the day's quota twice.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailfleet.agent.routes.settings import (
    DirectMxRoute,
    IpPool,
    IpPoolsSettings,
    PoolAddress,
    RouteSettings,
)

log = logging.getLogger("mailfleet.agent.routes")


def routes_by_pool(routes: Mapping[str, RouteSettings]) -> dict[str, tuple[str, ...]]:
    """The direct MX routes that send from each IP pool, in config order (pools no route
    sends from are left out). A message that asks for a pool goes by the first of them."""
    found: dict[str, tuple[str, ...]] = {}
    for name, config in routes.items():
        if isinstance(config, DirectMxRoute) and config.pool:
            found[config.pool] = (*found.get(config.pool, ()), name)
    return found


def pool_of_route(routes: Mapping[str, RouteSettings]) -> dict[str, str]:
    """The IP pool each direct MX route sends from (routes without one are left out)."""
    return {
        name: config.pool
        for name, config in routes.items()
        if isinstance(config, DirectMxRoute) and config.pool
    }


def warmup_quota(plan: Sequence[int], start: datetime.date, today: datetime.date) -> int | None:
    """Messages ``today`` allows under ``plan`` (day 1 on ``start``); None means no limit.

    Before its start an address sends nothing; after the plan's last day, without limit.
    """
    day = (today - start).days
    if day < 0:
        return 0
    return plan[day] if day < len(plan) else None


def seconds_until_tomorrow(now: datetime.datetime) -> float:
    """Seconds from ``now`` (UTC) to the next UTC midnight, when quotas start afresh."""
    tomorrow = (now + datetime.timedelta(days=1)).date()
    midnight = datetime.datetime.combine(tomorrow, datetime.time(), tzinfo=datetime.UTC)
    return (midnight - now).total_seconds()


@dataclass
class _Member:
    entry: PoolAddress
    current: int = 0  # smooth weighted round robin state


class WeightedRoundRobin:
    """Smooth weighted round robin (as nginx does): over any stretch of picks each member gets
    its weight's share, interleaved rather than in runs."""

    def __init__(self, entries: Sequence[PoolAddress]) -> None:
        self._members = [_Member(e) for e in entries]

    def pick(self, eligible: set[str]) -> PoolAddress | None:
        """The next address among ``eligible`` ones, or None when none is."""
        members = [m for m in self._members if m.entry.address in eligible]
        if not members:
            return None
        total = sum(m.entry.weight for m in members)
        for m in members:
            m.current += m.entry.weight
        best = max(members, key=lambda m: m.current)
        best.current -= total
        return best.entry


class SourcePool:
    """One worker's view of an IP pool: which address sends the next message, and how many
    each may still send today."""

    def __init__(
        self,
        name: str,
        pool: IpPool,
        plans: IpPoolsSettings,
        *,
        share: float = 1.0,
        state_file: Path | None = None,
    ) -> None:
        self.name = name
        self.pool = pool
        self._plans = plans.plans
        self._share = share
        self._state_file = state_file
        self._wrr = WeightedRoundRobin(pool.addresses)
        self._day = datetime.datetime.now(datetime.UTC).date()
        self._sent: dict[str, int] = {}
        self._unsaved = False  # the last save failed (its warning is logged)
        self._load()

    def _load(self) -> None:
        if self._state_file is None:
            return
        try:
            data = json.loads(self._state_file.read_text(encoding="utf-8"))
            if data.get("day") == self._day.isoformat():
                self._sent = {str(k): int(v) for k, v in data.get("sent", {}).items()}
        except (OSError, ValueError, AttributeError):
            pass  # no state yet (or a torn one): start the day's count at zero

    def save(self) -> None:
        """Write today's counts (atomically); called after each delivery.

        A disk that is full (or unwritable) must not stop delivery: the counts stay in this
        worker's memory and go to disk with the next save that succeeds (logged once a streak).
        """
        if self._state_file is None:
            return
        tmp = self._state_file.with_suffix(".tmp")
        data = {"pool": self.name, "day": self._day.isoformat(), "sent": self._sent}
        try:
            self._state_file.parent.mkdir(mode=0o700, exist_ok=True)
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self._state_file)
        except OSError as exc:
            if not self._unsaved:
                log.warning(
                    "IP pool %s: today's warm-up counts cannot be saved (%s); kept in memory",
                    self.name,
                    os.strerror(exc.errno).lower() if exc.errno else exc,
                )
            self._unsaved = True
            return
        self._unsaved = False

    def _roll(self, today: datetime.date) -> None:
        if today != self._day:
            self._day, self._sent = today, {}

    def remaining(self, entry: PoolAddress, today: datetime.date) -> int | None:
        """What ``entry`` may still send today from this worker (None: no limit)."""
        self._roll(today)
        if not entry.warmup or entry.warmup_start is None:
            return None
        quota = warmup_quota(self._plans[entry.warmup], entry.warmup_start, today)
        if quota is None:
            return None
        mine = math.ceil(quota * self._share)
        return max(0, mine - self._sent.get(entry.address, 0))

    def assign(self, count: int, now: datetime.datetime) -> list[PoolAddress | None]:
        """Source addresses for ``count`` messages, in turn; None for those no address can
        take today."""
        today = now.date()
        left = {e.address: self.remaining(e, today) for e in self.pool.addresses}
        eligible = {a for a, n in left.items() if n is None or n > 0}
        chosen: list[PoolAddress | None] = []
        for _ in range(count):
            entry = self._wrr.pick(eligible)
            chosen.append(entry)
            if entry is None:
                continue
            self._sent[entry.address] = self._sent.get(entry.address, 0) + 1
            n = left[entry.address]
            if n is not None:
                left[entry.address] = n - 1
                if n - 1 <= 0:
                    eligible.discard(entry.address)
        return chosen


def sent_today(directory: Path, today: datetime.date) -> dict[str, int]:
    """Messages each IP pool has sent today, summed over the workers' count files."""
    totals: dict[str, int] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("day") != today.isoformat():
                continue
            pool = str(data["pool"])
            totals[pool] = totals.get(pool, 0) + sum(int(n) for n in data["sent"].values())
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            continue  # a torn or foreign file says nothing reliable
    return totals
