"""The signup forms' time token and confirmation token."""

from __future__ import annotations

import secrets

from mailfleet.agent.feedback.tokens import Purpose, TokenKey
from mailfleet.agent.signup.tokens import (
    TimeVerdict,
    check_time_token,
    confirm_token,
    read_confirm_token,
    time_token,
)

KEY = TokenKey(secrets.token_bytes(32))
SERVED = 1_800_000_000.0
MIN, MAX = 2.0, 24 * 3600.0


def _check(token: str, now: float, form_row: int = 7) -> TimeVerdict:
    return check_time_token(KEY, token, 1, form_row, now, MIN, MAX)


def test_a_post_is_taken_between_the_fill_time_and_the_page_age() -> None:
    token = time_token(KEY, 1, 7, SERVED)
    assert _check(token, SERVED + 0.5) is TimeVerdict.TOO_FAST
    assert _check(token, SERVED + MIN) is TimeVerdict.OK
    assert _check(token, SERVED + MAX) is TimeVerdict.OK
    assert _check(token, SERVED + MAX + 1) is TimeVerdict.TOO_OLD


def test_a_token_of_another_form_key_or_purpose_is_missing() -> None:
    token = time_token(KEY, 1, 7, SERVED)
    assert _check(token, SERVED + 10, form_row=8) is TimeVerdict.MISSING
    other = TokenKey(secrets.token_bytes(32))
    assert check_time_token(other, token, 1, 7, SERVED + 10, MIN, MAX) is TimeVerdict.MISSING
    assert _check(confirm_token(KEY, 1, 7, int(SERVED)), SERVED + 10) is TimeVerdict.MISSING
    assert _check("", SERVED + 10) is TimeVerdict.MISSING


def test_a_confirmation_token_names_its_signup_and_nothing_else_verifies() -> None:
    token = confirm_token(KEY, 1, 7, 42)
    subject = read_confirm_token(KEY, token)
    assert subject is not None
    assert (subject.tenant_id, subject.campaign_id, subject.message_id) == (1, 7, 42)
    assert KEY.read(Purpose.UNSUBSCRIBE, token) is None
    assert read_confirm_token(KEY, time_token(KEY, 1, 7, 42)) is None
    altered = token[:-1] + ("1" if token[-1] == "0" else "0")
    assert read_confirm_token(KEY, altered) is None
