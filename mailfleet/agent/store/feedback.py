"""The feedback tables: soft-bounce scores, per-domain delivery and complaint counts (behind
complaint rates), counters of inbound feedback mail, and the shunt for mail that failed.

Writes run inside the caller's transaction on the store's writer thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

_DAY = 86400


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


@dataclass(frozen=True)
class ShuntedMail:
    """Inbound feedback mail whose processing failed unexpectedly, kept for a person to see."""

    time: float
    rcpt_to: str
    mail_from: str
    data: bytes
    error: str


def day_of(now: float) -> int:
    """Days since the epoch: the unit of the per-domain counts."""
    return int(now // _DAY)


def score_soft_bounce(
    conn: sqlite3.Connection, tenant_id: int, email_key: str, now: float, since: float
) -> int:
    """Score one soft bounce of an address (keyed as suppressions are), forgetting those
    before ``since``; return how many it has since then."""
    conn.execute(
        "DELETE FROM soft_bounces WHERE tenant_id = ? AND email_key = ? AND time < ?",
        (tenant_id, email_key, since),
    )
    conn.execute(
        "INSERT INTO soft_bounces (tenant_id, email_key, time) VALUES (?, ?, ?)",
        (tenant_id, email_key, now),
    )
    row = conn.execute(
        "SELECT count(*) FROM soft_bounces WHERE tenant_id = ? AND email_key = ?",
        (tenant_id, email_key),
    ).fetchone()
    return int(row[0])


def count_complaint(conn: sqlite3.Connection, tenant_id: int, domain: str, now: float) -> None:
    """Count one complaint against the recipient domain today."""
    conn.execute(
        "INSERT INTO domain_feedback (tenant_id, domain, day, delivered, complaints)"
        " VALUES (?, ?, ?, 0, 1) ON CONFLICT DO UPDATE SET complaints = complaints + 1",
        (tenant_id, domain, day_of(now)),
    )


def count_delivered(
    conn: sqlite3.Connection, delivered: Mapping[tuple[int, str], int], now: float
) -> None:
    """Count delivered messages by (tenant, recipient domain) today."""
    day = day_of(now)
    conn.executemany(
        "INSERT INTO domain_feedback (tenant_id, domain, day, delivered, complaints)"
        " VALUES (?, ?, ?, ?, 0)"
        " ON CONFLICT DO UPDATE SET delivered = delivered + excluded.delivered",
        [(tenant, domain, day, n) for (tenant, domain), n in delivered.items()],
    )


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


def shunt(conn: sqlite3.Connection, mail: ShuntedMail) -> None:
    """Keep inbound mail that could not be processed."""
    conn.execute(
        "INSERT INTO feedback_shunt (time, rcpt_to, mail_from, data, error) VALUES (?, ?, ?, ?, ?)",
        (mail.time, mail.rcpt_to, mail.mail_from, mail.data, mail.error),
    )
