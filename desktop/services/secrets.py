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

HOW_TO_FIX = (
    "Mailfleet keeps agent API keys in the operating system's keyring. On Linux start a Secret "
    "Service (GNOME Keyring or KWallet) and unlock it; on a machine without one, install an "
    "encrypted file keyring (pip install keyrings.cryptfile) and choose it with "
    "PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring."
)


class KeyringUnavailable(Exception):
    """No secure keyring backend: the message says which backend was found and what to do."""


def _insecure(backend: KeyringBackend) -> str | None:
    """Why ``backend`` cannot hold API keys, or None when it can."""
    if isinstance(backend, fail.Keyring | null.Keyring):
        return "no keyring backend is available"
    if isinstance(backend, chainer.ChainerBackend):
        reasons = [_insecure(b) for b in backend.backends]
        if not backend.backends or all(reasons):
            return "no keyring backend is available"
        return None
    name = type(backend).__name__
    if "plaintext" in name.lower() or "plaintext" in type(backend).__module__.lower():
        return f"the keyring backend {name} stores secrets in clear text"
    return None


def check_backend() -> KeyringBackend:
    """The keyring backend in use, or :class:`KeyringUnavailable` when it is not secure."""
    backend = keyring.get_keyring()
    reason = _insecure(backend)
    if reason is not None:
        raise KeyringUnavailable(f"{reason} ({type(backend).__module__}). {HOW_TO_FIX}")
    return backend


def store_key(ref: str, secret: str) -> None:
    """Keep ``secret`` in the keyring under ``ref``."""
    backend = check_backend()
    try:
        backend.set_password(SERVICE, ref, secret)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailable(f"the keyring refused the key: {exc}. {HOW_TO_FIX}") from exc


def load_key(ref: str) -> str:
    """The secret kept under ``ref``; :class:`KeyringUnavailable` if the keyring lost it."""
    backend = check_backend()
    secret = backend.get_password(SERVICE, ref)
    if secret is None:
        raise KeyringUnavailable(
            "the agent's API key is not in the keyring any more; remove the agent and pair it "
            "again with a new pairing string"
        )
    return str(secret)


def delete_key(ref: str) -> None:
    """Forget the secret under ``ref`` (gone already is fine)."""
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        check_backend().delete_password(SERVICE, ref)
