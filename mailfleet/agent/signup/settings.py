"""The ``[signup]`` settings: the hosted forms' bot defences and the double opt-in's clock."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SignupSettings(BaseModel):
    """How the agent's signup forms hold off bots and how long a confirmation link works."""

    # A post sooner than this after its page was served is a bot's ...
    min_fill_seconds: float = Field(2.0, ge=0, le=600)
    # ... and one later than this needs the page loaded again.
    max_fill_hours: float = Field(24.0, gt=0, le=24 * 30)
    # Form posts and confirmations per minute from one client address; more get 429.
    posts_per_minute: int = Field(10, ge=1, le=100_000)
    # Signups a form accepts per UTC day unless its definition sets its own cap.
    daily_cap: int = Field(5000, ge=1, le=10_000_000)
    # How long a confirmation link works; unconfirmed signups then expire.
    confirm_hours: float = Field(72.0, gt=0, le=24 * 90)
    # A second signup of the same address on the same form within this many minutes gets no
    # second confirmation mail (the first link still works).
    confirm_resend_minutes: float = Field(60.0, ge=0, le=24 * 60)
