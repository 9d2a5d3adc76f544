"""Signed tokens: genuine ones verify, anything altered or forged does not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey, TokenKeyError

SUBJECT = Subject(tenant_id=3, campaign_id=41, message_id=1_234_567)


def test_a_token_names_its_message_for_its_purpose_only() -> None:
    key = TokenKey(os.urandom(32))
    token = key.make(Purpose.UNSUBSCRIBE, SUBJECT)
    assert token == token.lower() and len(token) <= 64
    int(token, 16)  # hex: safe in a URL path and in a local part whose case gets folded
    assert key.read(Purpose.UNSUBSCRIBE, token) == SUBJECT
    assert key.read(Purpose.UNSUBSCRIBE, token.upper()) == SUBJECT  # a local part folded
    for other in (Purpose.BOUNCE, Purpose.OPEN, Purpose.CLICK, Purpose.FEEDBACK_ID):
        assert key.read(other, token) is None


def test_altered_forged_and_foreign_tokens_are_refused() -> None:
    key = TokenKey(os.urandom(32))
    token = key.make(Purpose.BOUNCE, SUBJECT)
    altered = [
        token[:i] + ("a" if token[i] != "a" else "b") + token[i + 1 :] for i in range(len(token))
    ]
    assert all(key.read(Purpose.BOUNCE, t) is None for t in altered)
    other_key = TokenKey(os.urandom(32))
    assert other_key.read(Purpose.BOUNCE, token) is None
    # Another message's ids with this token's MAC.
    forged = key.make(Purpose.BOUNCE, Subject(3, 41, 1_234_568))
    assert key.read(Purpose.BOUNCE, forged[:-16] + token[-16:]) is None
    for junk in ("", "!!!!", "a" * 200, "aaaaaaaa", "00000000"):
        assert key.read(Purpose.BOUNCE, junk) is None


def test_a_click_token_signs_its_target() -> None:
    key = TokenKey(os.urandom(32))
    token = key.make(Purpose.CLICK, SUBJECT, b"https://shop.example/sale")
    assert key.read(Purpose.CLICK, token, b"https://shop.example/sale") == SUBJECT
    assert key.read(Purpose.CLICK, token, b"https://evil.example/") is None


def test_the_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "feedback.key"
    first = TokenKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = TokenKey.load_or_create(path)
    token = first.make(Purpose.OPEN, SUBJECT)
    assert again.read(Purpose.OPEN, token) == SUBJECT
    path.write_bytes(b"short")
    with pytest.raises(TokenKeyError, match="delete it"):
        TokenKey.load(path)
