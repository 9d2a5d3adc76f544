"""Unix account names, for messages that say who owns a file and who may read it."""

from __future__ import annotations

import pwd


def user_name(uid: int) -> str:
    """The account name of ``uid``, or the number itself when it has no account."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
