"""API keys: ``mfk_<key id>_<secret>``.

Only the key id and SHA-256 of the secret are stored. The secret is 256 random bits, so a fast
hash is enough: a slow hash protects low-entropy passwords, and would cost every RPC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "mfk"


@dataclass(frozen=True)
class NewKey:
    """A freshly minted key: the id and hash to store, the full secret to show once."""

    key_id: str
    secret_hash: str
    full_key: str


def mint() -> NewKey:
    """Create a new random API key."""
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret), f"{PREFIX}_{key_id}_{secret}")


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def split(full_key: str) -> tuple[str, str] | None:
    """Split ``mfk_<id>_<secret>`` into (key id, secret); None if it is not shaped like a key."""
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
