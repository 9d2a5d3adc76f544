"""The ``[feedback]`` settings: when soft bounces suppress an address, complaint-rate window."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FeedbackSettings(BaseModel):
    """How the agent reacts to bounces and complaints."""

    # An address is suppressed after this many soft bounces ...
    soft_bounce_limit: int = Field(5, ge=1, le=1000)
    # ... within this many days (Mailman's bounce score: 5 within a week by default).
    soft_bounce_days: float = Field(7.0, gt=0, le=365)
    # Complaint rates per recipient domain are computed over this many days.
    complaint_rate_days: int = Field(30, ge=1, le=365)
    # Above this share of delivered mail a domain's complaint rate is flagged (Gmail: 0.3 %).
    complaint_rate_threshold: float = Field(0.003, gt=0, lt=1)
