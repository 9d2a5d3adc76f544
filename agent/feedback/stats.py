"""Feedback figures: complaint rates per recipient domain, and counts of inbound feedback mail."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from agent.feedback.record import day_of


@dataclass(frozen=True)
class DomainRate:
    """Complaints against delivered mail for one recipient domain over a window."""

    domain: str
    delivered: int
    complaints: int

    @property
    def rate(self) -> float:
        """complaints / delivered; 0 with nothing delivered."""
        return self.complaints / self.delivered if self.delivered else 0.0


def complaint_rates(
    conn: sqlite3.Connection, tenant_id: int, days: int, now: float
) -> list[DomainRate]:
    """The tenant's domains with mail or complaints in the last ``days`` days (today
    included), highest complaint rate first."""
    rows = conn.execute(
        "SELECT domain, sum(delivered), sum(complaints) FROM domain_feedback"
        " WHERE tenant_id = ? AND day > ? GROUP BY domain",
        (tenant_id, day_of(now) - days),
    ).fetchall()
    rates = [DomainRate(domain, int(d), int(c)) for domain, d, c in rows]
    return sorted(rates, key=lambda r: (-r.rate, -r.complaints, r.domain))


def count_inbound(conn: sqlite3.Connection, outcome: str, n: int = 1) -> None:
    """Count inbound feedback mail by outcome (in the caller's transaction)."""
    conn.execute(
        "INSERT INTO feedback_counters (name, count) VALUES (?, ?)"
        " ON CONFLICT DO UPDATE SET count = count + excluded.count",
        (f"inbound.{outcome}", n),
    )


def inbound_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Inbound feedback mail by outcome, since the agent was created."""
    rows = conn.execute(
        "SELECT name, count FROM feedback_counters WHERE name LIKE 'inbound.%'"
    ).fetchall()
    return {name.removeprefix("inbound."): int(n) for name, n in rows}
