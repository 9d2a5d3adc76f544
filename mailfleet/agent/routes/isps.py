"""The shipped per-ISP shaping (``isp_defaults.toml``): MX rollups with their limits, and the
throttling replies on which a recipient domain is suspended for a while.

The table is package data, read once per process. The operator's ``[limits]`` come first:
their domains and rollups win, ``[limits.isps.<key>]`` changes a shipped figure, and
``isp_defaults = false`` leaves only their own.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from mailfleet.agent.routes.settings import DestinationLimits, LimitsSettings, domain_patterns

_LIMITS = ("connections", "messages_per_connection", "per_minute")


@dataclass(frozen=True)
class Throttling:
    """A throttling reply an ISP documents: on it, the domain is suspended for a while."""

    isp: str  # the ISP's name, e.g. "Gmail"
    code: str  # the reply's code as people know it, e.g. "421 4.7.28"
    pattern: re.Pattern[str]
    means: str  # what it says, in words: "it limits the mail it takes ..."
    seconds: float  # the first suspension's length


@dataclass(frozen=True)
class Isp:
    """One mailbox provider as shipped."""

    key: str  # as in [limits.isps.<key>]
    name: str
    mx: tuple[str, ...]  # MX host patterns of its rollup
    figures: dict[str, int]  # the limits it has figures for
    sources: dict[str, str]  # where each figure (and the MX patterns) come from
    throttling: tuple[Throttling, ...]


@dataclass(frozen=True)
class Rollup:
    """Domains whose MX hosts match one of ``patterns`` share ``limits`` under ``key``."""

    key: str
    patterns: tuple[str, ...]
    limits: DestinationLimits


def _isp(key: str, entry: dict[str, Any]) -> Isp:
    name = str(entry["name"])
    throttling = tuple(
        Throttling(
            name,
            str(t["code"]),
            re.compile(str(t["match"])),
            str(t["means"]),
            float(t["suspend_minutes"]) * 60,
        )
        for t in entry.get("throttling", [])
    )
    return Isp(
        key,
        name,
        tuple(domain_patterns(list(entry["mx"]))),
        {k: int(entry[k]) for k in _LIMITS if k in entry},
        {str(k): str(v) for k, v in entry.get("sources", {}).items()},
        throttling,
    )


@functools.cache
def shipped() -> dict[str, Isp]:
    """The shipped ISPs by key, in the table's order."""
    text = resources.files(__package__).joinpath("isp_defaults.toml").read_text("utf-8")
    return {key: _isp(key, entry) for key, entry in tomllib.loads(text).items()}


def rollups(limits: LimitsSettings) -> tuple[Rollup, ...]:
    """The MX rollups in force, in the order they are matched: the operator's, then the
    shipped ISPs' (with the operator's figures for them) unless ``isp_defaults`` is off.
    A shipped figure the ISP has none for is the operator's default."""
    found = [Rollup(f"rollup:{p}", (p,), r) for p, r in limits.rollups.items()]
    if limits.isp_defaults:
        for isp in shipped().values():
            mine = limits.isps.get(isp.key)
            figures: dict[str, Any] = dict(isp.figures)
            if mine is not None:
                figures.update(mine.model_dump(include=set(_LIMITS), exclude_none=True))
            found.append(
                Rollup(f"isp:{isp.key}", isp.mx, limits.default.model_copy(update=figures))
            )
    return tuple(found)


def throttling(limits: LimitsSettings) -> tuple[Throttling, ...]:
    """The throttling replies that suspend a domain (none when ``isp_defaults`` is off), with
    the operator's ``suspend_seconds`` for each ISP."""
    if not limits.isp_defaults:
        return ()
    found: list[Throttling] = []
    for isp in shipped().values():
        mine = limits.isps.get(isp.key)
        for t in isp.throttling:
            if mine is not None and mine.suspend_seconds is not None:
                t = replace(t, seconds=mine.suspend_seconds)
            found.append(t)
    return tuple(found)


def throttled_by(reply: str, rules: tuple[Throttling, ...]) -> Throttling | None:
    """The documented throttling reply ``reply`` is, if any."""
    if not reply.startswith("4"):
        return None
    return next((t for t in rules if t.pattern.search(reply)), None)
