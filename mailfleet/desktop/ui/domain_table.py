"""The columns and cells of deliverability per domain, as the dashboard and the Analytics page
both show it."""

from __future__ import annotations

from mailfleet.desktop.services.stats import DomainRow

DOMAIN_COLUMNS = (
    "Domain",
    "Recipients",
    "Delivered",
    "Deferred",
    "Bounced",
    "Bounce rate",
    "Complaint rate",
)
COMPLAINT_COLUMN = DOMAIN_COLUMNS.index("Complaint rate")


def domain_cells(row: DomainRow) -> tuple[str, ...]:
    """The texts of one domain's row, in the order of :data:`DOMAIN_COLUMNS`."""
    return (
        row.domain,
        f"{row.recipients:,}",
        f"{row.delivered:,}",
        f"{row.deferred:,}",
        f"{row.bounced:,}",
        f"{row.bounce_rate:.2%}",
        f"{row.complaint_rate:.2%}",
    )
