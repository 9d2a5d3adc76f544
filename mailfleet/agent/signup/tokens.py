"""The signup forms' signed tokens: the time token a page carries, the confirmation link's.

Both are :class:`mailfleet.agent.feedback.tokens.TokenKey` tokens, with their own purposes, so
neither verifies as the other or as an unsubscribe link. The time token says when the page was
served: a post sooner than a person fills a form, or later than a page is left open, is
refused (a bot replaying one token, or posting without loading the page).
"""

from __future__ import annotations

from enum import Enum

from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey


class TimeVerdict(Enum):
    """What a form's time token says about a post."""

    OK = "ok"
    MISSING = "missing"  # absent, forged or for another form
    TOO_FAST = "too fast"
    TOO_OLD = "too old"


def time_token(key: TokenKey, tenant_id: int, form_row: int, now: float) -> str:
    """The token a page served at ``now`` carries in its hidden ``t`` field."""
    return key.make(Purpose.FORM_TIME, Subject(tenant_id, form_row, int(now)))


def check_time_token(
    key: TokenKey,
    token: str,
    tenant_id: int,
    form_row: int,
    now: float,
    min_seconds: float,
    max_seconds: float,
) -> TimeVerdict:
    """Whether ``token`` is this form's and its page was served between ``max_seconds`` and
    ``min_seconds`` before ``now``."""
    subject = key.read(Purpose.FORM_TIME, token)
    if subject is None or (subject.tenant_id, subject.campaign_id) != (tenant_id, form_row):
        return TimeVerdict.MISSING
    age = now - subject.message_id
    if age < min_seconds:
        return TimeVerdict.TOO_FAST
    if age > max_seconds:
        return TimeVerdict.TOO_OLD
    return TimeVerdict.OK


def confirm_token(key: TokenKey, tenant_id: int, form_row: int, signup_id: int) -> str:
    """The token of a signup's confirmation link (its expiry is the signup's, in the store)."""
    return key.make(Purpose.CONFIRM, Subject(tenant_id, form_row, signup_id))


def read_confirm_token(key: TokenKey, token: str) -> Subject | None:
    """(tenant, form, signup) of a genuine confirmation token; None for anything else."""
    return key.read(Purpose.CONFIRM, token)
