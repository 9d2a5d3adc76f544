"""The rules for SMTP intake logins: usernames and passwords (the logins themselves are in
:mod:`mailfleet.agent.store.smtp_accounts`)."""

from __future__ import annotations

import re

from mailfleet.agent.errors import InvalidArgument

_USERNAME = re.compile(r"[A-Za-z0-9._@+-]{1,128}")
MIN_PASSWORD = 12


def check_username(username: str) -> str:
    """The name, if it is a usable login (InvalidArgument otherwise)."""
    if not _USERNAME.fullmatch(username):
        raise InvalidArgument(
            "username", "1-128 characters of A-Z, a-z, 0-9, '.', '_', '@', '+', '-'"
        )
    return username


def check_password(password: str) -> str:
    """The password, if it is long enough and a single line."""
    if len(password) < MIN_PASSWORD or not password.isprintable():
        raise InvalidArgument(
            "password", f"at least {MIN_PASSWORD} printable characters (or empty to generate one)"
        )
    return password
