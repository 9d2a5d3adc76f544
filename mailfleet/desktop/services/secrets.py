"""Agents' API keys in the OS keyring (``keyring``), never in the database.

A keyring that would keep keys in clear text, or none at all, is refused with an explanation of
how to get a real one: the desktop would rather not pair than leave a key lying around.
"""

from __future__ import annotations

import contextlib

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

SERVICE = "mailfleet"

# What the marketer reads when no keyring will do: what is missing, why, and what to do next.
# The technical way round (an encrypted file keyring) is in docs/desktop.md, for an admin.
NO_KEYRING = (
    "Mailfleet keeps each agent's key in this computer's password store (the keyring), and "
    "none is available."
)
CLEAR_TEXT = (
    "The password store on this computer keeps passwords unencrypted, so Mailfleet will not "
    "put an agent's key in it."
)
HOW_TO_FIX = (
    "Start and unlock a password store (a Secret Service such as GNOME Keyring or KWallet; on "
    "Debian or Ubuntu, install gnome-keyring and log in again), then try again."
)


class KeyringUnavailable(Exception):
    """No secure keyring backend: the message says which backend was found and what to do."""


def _insecure(backend: KeyringBackend) -> str | None:
    """Why ``backend`` cannot hold API keys, or None when it can."""
    if isinstance(backend, fail.Keyring | null.Keyring):
        return NO_KEYRING
    if isinstance(backend, chainer.ChainerBackend):
        reasons = [_insecure(b) for b in backend.backends]
        if not backend.backends or all(reasons):
            return NO_KEYRING
        return None
    name = type(backend).__name__
    if "plaintext" in name.lower() or "plaintext" in type(backend).__module__.lower():
        return CLEAR_TEXT
    return None


def check_backend() -> KeyringBackend:
    """The keyring backend in use, or :class:`KeyringUnavailable` when it is not secure."""
    backend = keyring.get_keyring()
    reason = _insecure(backend)
    if reason is not None:
        raise KeyringUnavailable(f"{reason} {HOW_TO_FIX}")
    return backend


def store_key(ref: str, secret: str) -> None:
    """Keep ``secret`` in the keyring under ``ref``."""
    backend = check_backend()
    try:
        backend.set_password(SERVICE, ref, secret)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(
            f"The password store refused to keep the agent's key (is it locked?). {HOW_TO_FIX}"
        ) from exc


def load_key(ref: str) -> str:
    """The secret kept under ``ref``; :class:`KeyringUnavailable` if the keyring lost it."""
    backend = check_backend()
    secret = backend.get_password(SERVICE, ref)
    if secret is None:
        raise KeyringUnavailable(
            "The agent's key is not in this computer's password store any more: remove the "
            "agent and pair it again with its pairing string."
        )
    return str(secret)


def delete_key(ref: str) -> None:
    """Forget the secret under ``ref`` (gone already is fine)."""
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        check_backend().delete_password(SERVICE, ref)
