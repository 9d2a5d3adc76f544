"""Analytics as CSV: the campaign comparison, daily trends or deliverability per domain.

Rates are written as plain fractions (0.0123) so a spreadsheet can compute with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from mailfleet.desktop.services.export import write_csv
from mailfleet.desktop.services.stats import CampaignFigures, DomainRow, Totals

KINDS = (
    "delivered",
    "deferred",
    "bounced",
    "failed",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
)


def write(
    campaigns: Sequence[CampaignFigures],
    trend: dict[str, list[tuple[datetime, int]]],
    domains: Sequence[DomainRow],
    which: str,
    path: Path,
) -> int:
    """Write one of "campaigns", "trend" or "domains" to ``path``; returns the data rows."""
    if which == "campaigns":
        counts = list(Totals().as_dict())
        header = [
            "campaign_id",
            "name",
            "state",
            "created_at",
            *counts,
            "bounce_rate",
            "complaint_rate",
            "open_rate",
            "click_rate",
        ]
        rows = [
            [
                c.id,
                c.name,
                c.state,
                c.created_at,
                *c.totals.as_dict().values(),
                round(c.totals.bounced / max(c.totals.delivered + c.totals.bounced, 1), 6),
                round(c.rate("complained"), 6),
                round(c.rate("opened"), 6),
                round(c.rate("clicked"), 6),
            ]
            for c in campaigns
        ]
        return write_csv(path, header, rows)
    if which == "trend":
        days = sorted({d for points in trend.values() for d, _ in points})
        by_kind = {kind: dict(trend.get(kind, [])) for kind in KINDS}
        rows = [[f"{day:%Y-%m-%d}", *(by_kind[k].get(day, 0) for k in KINDS)] for day in days]
        return write_csv(path, ["day", *KINDS], rows)
    if which == "domains":
        header = [
            "domain",
            "recipients",
            "delivered",
            "deferred",
            "bounced",
            "complained",
            "bounce_rate",
            "complaint_rate",
            "over_gmail_complaint_line",
        ]
        rows = [
            [
                d.domain,
                d.recipients,
                d.delivered,
                d.deferred,
                d.bounced,
                d.complained,
                round(d.bounce_rate, 6),
                round(d.complaint_rate, 6),
                "yes" if d.over_complaint_line else "no",
            ]
            for d in domains
        ]
        return write_csv(path, header, rows)
    raise ValueError(f"unknown export {which!r}")
