"""A/B tests of campaigns: drawing the test share, the figures per variant, the winner.

docs/ab-tests.md has the design: the agent holding a campaign picks its winner. The test
share is drawn when the campaign starts and dealt to the variants in turn; the remainder
stays queued (``ab_sample = 0``, ``variant`` NULL) and is not claimed until the winner is
picked; then it is sent the winner (the scheduler reads :func:`winner` for the campaign's
spec), with no row of it rewritten.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass

from mailfleet.agent.errors import FailedPrecondition, InvalidArgument
from mailfleet.agent.model import AbWinnerRule, CampaignSpec, EventType, MessageState

_QUEUED = int(MessageState.QUEUED)
_DELIVERED = int(MessageState.DELIVERED)
_OPENED = int(EventType.MESSAGE_OPENED)
_CLICKED = int(EventType.MESSAGE_CLICKED)
# A person's open or click of a message, completed with the event type: a link scanner's or
# an image proxy's (feedback/bots.py flags them) does not pick a winner. The IN term repeats
# the partial engagement index's condition so that SQLite knows it may use it.
_ENGAGED = (
    "SELECT 1 FROM events AS e WHERE e.message_id = m.id"
    " AND coalesce(json_extract(e.attrs, '$.bot'), '0') != '1'"
    f" AND e.type IN ({_OPENED}, {_CLICKED}) AND e.type = "
)


@dataclass(frozen=True)
class VariantFigures:
    """One variant's test-share messages: delivered, and of those opened and clicked."""

    variant: int
    sent: int
    opened: int
    clicked: int


@dataclass(frozen=True)
class AbState:
    """Where a campaign's A/B test is."""

    campaign_id: int
    decide_at: float | None  # None: the manual rule
    winner: int | None  # None: not picked yet
    figures: tuple[VariantFigures, ...]


def begin(conn: sqlite3.Connection, campaign_id: int, spec: CampaignSpec, now: float) -> int:
    """Draw the test share of a campaign being started and record its test; returns the
    share's size. Recipients uploaded later are of the remainder."""
    test = spec.ab_test
    assert test is not None
    queued = [
        row[0]
        for row in conn.execute(
            f"SELECT id FROM messages WHERE campaign_id = ? AND state = {_QUEUED}", (campaign_id,)
        )
    ]
    size = round(len(queued) * test.test_percent / 100)
    # SystemRandom: the split must not be predictable from the upload order.
    sample = random.SystemRandom().sample(queued, size)
    conn.executemany(
        "UPDATE messages SET ab_sample = 1, variant = ? WHERE id = ?",
        [(i % len(test.variants), mid) for i, mid in enumerate(sample)],
    )
    decide_at = None
    if test.rule != AbWinnerRule.MANUAL:
        decide_at = max(now, spec.start_at or now) + test.wait_hours * 3600
    conn.execute(
        "INSERT OR REPLACE INTO ab_tests (campaign_id, decide_at) VALUES (?, ?)",
        (campaign_id, decide_at),
    )
    return size


def testing(conn: sqlite3.Connection) -> frozenset[int]:
    """Campaigns whose A/B test has no winner yet: only their test share may be claimed."""
    return frozenset(
        row[0] for row in conn.execute("SELECT campaign_id FROM ab_tests WHERE winner IS NULL")
    )


def figures(conn: sqlite3.Connection, campaign_id: int) -> tuple[VariantFigures, ...]:
    """Each variant's test-share messages delivered, and of those opened and clicked at
    least once."""
    rows = conn.execute(
        f"SELECT variant, count(*), sum(EXISTS ({_ENGAGED}{_OPENED})),"
        f" sum(EXISTS ({_ENGAGED}{_CLICKED})) FROM messages AS m WHERE campaign_id = ?"
        f" AND ab_sample = 1 AND state = {_DELIVERED} GROUP BY variant",
        (campaign_id,),
    ).fetchall()
    return tuple(VariantFigures(int(v), int(n), int(o), int(c)) for v, n, o, c in rows)


def state(conn: sqlite3.Connection, campaign_id: int, variants: int) -> AbState:
    """The campaign's test, with a figure for each of its ``variants`` (zeros included)."""
    row = conn.execute(
        "SELECT decide_at, winner FROM ab_tests WHERE campaign_id = ?", (campaign_id,)
    ).fetchone()
    if row is None:
        found: dict[int, VariantFigures] = {}
        return AbState(campaign_id, None, None, _every(found, variants))
    found = {f.variant: f for f in figures(conn, campaign_id)}
    return AbState(campaign_id, row[0], row[1], _every(found, variants))


def _every(found: dict[int, VariantFigures], variants: int) -> tuple[VariantFigures, ...]:
    return tuple(found.get(i, VariantFigures(i, 0, 0, 0)) for i in range(variants))


def leader(figures: tuple[VariantFigures, ...], rule: AbWinnerRule) -> int:
    """The variant with the highest open (or click) rate; the first of equals."""

    def rate(f: VariantFigures) -> float:
        hits = f.opened if rule == AbWinnerRule.OPENS else f.clicked
        return hits / f.sent if f.sent else 0.0

    return max(range(len(figures)), key=lambda i: (rate(figures[i]), -i))


def pick(conn: sqlite3.Connection, campaign_id: int, winner: int, now: float) -> None:
    """Make ``winner`` the test's winner; the remainder (``variant`` NULL) is claimed from
    now on and sent the winner's variant, uploaded before the pick or after."""
    row = conn.execute(
        "SELECT winner FROM ab_tests WHERE campaign_id = ?", (campaign_id,)
    ).fetchone()
    if row is None:
        raise FailedPrecondition(f"campaign {campaign_id} has no A/B test running")
    if row[0] is not None:
        if row[0] == winner:
            return
        raise FailedPrecondition(f"campaign {campaign_id}'s winner was already picked")
    conn.execute(
        "UPDATE ab_tests SET winner = ?, decided_at = ? WHERE campaign_id = ?",
        (winner, now, campaign_id),
    )


def due(conn: sqlite3.Connection, now: float) -> list[int]:
    """Campaigns whose test's rule must pick its winner now."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT campaign_id FROM ab_tests WHERE winner IS NULL AND decide_at <= ?", (now,)
        )
    ]


def check_variant(variant: int, variants: int) -> None:
    """Refuse a winner that is not one of the test's variants."""
    if not 0 <= variant < variants:
        raise InvalidArgument("variant", f"must be 0-{variants - 1}")


def winner(conn: sqlite3.Connection, campaign_id: int) -> int | None:
    """The campaign's test's winner; None before it is picked (or without a test)."""
    row = conn.execute(
        "SELECT winner FROM ab_tests WHERE campaign_id = ?", (campaign_id,)
    ).fetchone()
    return None if row is None else row[0]
