"""SMTP passwords: scrypt hashes (hashlib), compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# 16 MiB of memory and ~50 ms per check: cheap for a login, expensive for a guesser.
_N, _R, _P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024
# Checked against when a login names no user, so such attempts take as long as real ones.
_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def generate() -> str:
    """A new random password (32 URL-safe characters) that does not begin with "-".

    One in 64 would otherwise, and command-line clients (swaks, scripts calling them) then
    take the password for an option.
    """
    while (password := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return password


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64 parts), safe to store."""
    salt = secrets.token_bytes(16)
    digest = _derive(password.encode(), salt, _N, _R, _P)
    return "$".join(
        [
            "scrypt",
            str(_N),
            str(_R),
            str(_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify(password: bytes, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (None: no such user; still costs one hash)."""
    scheme, n, r, p, salt, digest = (stored or _DUMMY).split("$")
    if scheme != "scrypt":
        return False
    found = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(found, base64.b64decode(digest)) and stored is not None
