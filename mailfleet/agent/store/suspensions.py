"""Suspensions: recipient domains and routes whose mail waits until an operator resumes them.

A suspension belongs to one tenant, or to every tenant (``tenant_id`` 0, an admin's). It lifts
by itself at ``until`` when it has one. The scheduler keeps the ones in force in memory
(:class:`Holds`) and the claim queries of :mod:`mailfleet.agent.store.queue` leave their mail where
it is: it stays queued (or deferred), is not leased, and is not tried.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import Enum

EVERY_TENANT = 0


class Kind(Enum):
    """What a suspension holds back."""

    DOMAIN = "domain"  # mail to a recipient domain
    ROUTE = "route"  # mail a route would send


@dataclass(frozen=True)
class Suspension:
    """One destination or route on hold."""

    tenant_id: int  # EVERY_TENANT for every tenant's mail
    kind: Kind
    name: str  # the domain (lower-case, IDNA) or the route's name
    reason: str
    created_at: float
    until: float | None  # when it lifts by itself; None: when resumed

    def in_force(self, now: float) -> bool:
        """Whether it still holds mail back at ``now``."""
        return self.until is None or self.until > now


def suspend(conn: sqlite3.Connection, s: Suspension) -> None:
    """Put ``s`` in force, replacing the same tenant's suspension of the same name (and
    forgetting those that lifted by themselves)."""
    conn.execute("DELETE FROM suspensions WHERE until IS NOT NULL AND until <= ?", (s.created_at,))
    conn.execute(
        "INSERT INTO suspensions (tenant_id, kind, name, reason, created_at, until)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, kind, name) DO UPDATE SET"
        " reason = excluded.reason, created_at = excluded.created_at, until = excluded.until",
        (s.tenant_id, s.kind.value, s.name, s.reason, s.created_at, s.until),
    )


def resume(conn: sqlite3.Connection, tenant_id: int, kind: Kind, name: str) -> bool:
    """Lift a tenant's suspension of ``name``; False when there was none."""
    cur = conn.execute(
        "DELETE FROM suspensions WHERE tenant_id = ? AND kind = ? AND name = ?",
        (tenant_id, kind.value, name),
    )
    return cur.rowcount > 0


def in_force(
    conn: sqlite3.Connection, now: float, tenant_ids: tuple[int, ...] | None = None
) -> list[Suspension]:
    """Suspensions still in force at ``now`` (of ``tenant_ids`` only, if given), by kind and
    name."""
    sql = (
        "SELECT tenant_id, kind, name, reason, created_at, until FROM suspensions"
        " WHERE (until IS NULL OR until > ?)"
    )
    params: list[object] = [now]
    if tenant_ids is not None:
        sql += f" AND tenant_id IN ({', '.join('?' * len(tenant_ids))})"
        params.extend(tenant_ids)
    rows = conn.execute(sql + " ORDER BY kind, name, tenant_id", params).fetchall()
    return [Suspension(t, Kind(k), n, r, c, u) for t, k, n, r, c, u in rows]


_Held = frozenset[tuple[int, str]]


@dataclass(frozen=True)
class Holds:
    """The suspensions in force as the claim queries filter by them: ``(tenant id, name)``
    pairs, tenant EVERY_TENANT for every tenant's mail. A claim compares each candidate
    message with them in SQL, with no query per message."""

    domains: _Held = frozenset()
    routes: _Held = frozenset()

    @classmethod
    def of(cls, suspensions: list[Suspension], now: float) -> Holds:
        """The holds of those of ``suspensions`` in force at ``now``."""
        held = [(s.kind, (s.tenant_id, s.name)) for s in suspensions if s.in_force(now)]
        return cls(
            frozenset(key for kind, key in held if kind is Kind.DOMAIN),
            frozenset(key for kind, key in held if kind is Kind.ROUTE),
        )

    def holds_domain(self, tenant_id: int, domain: str) -> bool:
        """Whether a tenant's mail to ``domain`` waits."""
        return (EVERY_TENANT, domain) in self.domains or (tenant_id, domain) in self.domains

    def holds_route(self, tenant_id: int, route: str) -> bool:
        """Whether a tenant's mail over ``route`` waits."""
        return (EVERY_TENANT, route) in self.routes or (tenant_id, route) in self.routes

    def sql(self, alias: str = "", *, routes: bool = False) -> tuple[str, list[object]]:
        """An SQL condition (`` AND …``, or '' when nothing is held) that a message is not
        held back, with its parameters; ``routes`` also checks the route of its last try."""
        prefix = f"{alias}." if alias else ""
        domain = f"substr({prefix}email_norm, instr({prefix}email_norm, '@') + 1)"
        checks = [(domain, self.domains)]
        if routes:
            checks.append((f"{prefix}last_route", self.routes))
        sql, params = "", list[object]()
        for column, held in checks:
            every = sorted(name for tenant, name in held if tenant == EVERY_TENANT)
            if every:
                sql += f" AND {column} NOT IN ({', '.join('?' * len(every))})"
                params.extend(every)
            # One tenant's: its id and the name, in one comparison per message.
            some = sorted(f"{tenant} {name}" for tenant, name in held if tenant != EVERY_TENANT)
            if some:
                sql += (
                    f" AND ({prefix}tenant_id || ' ' || {column})"
                    f" NOT IN ({', '.join('?' * len(some))})"
                )
                params.extend(some)
        return sql, params
