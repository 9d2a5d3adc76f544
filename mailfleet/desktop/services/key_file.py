"""Agents' API keys in an owner-only file, for a host with no password store: the headless
fleet service (``mailfleet-desktop sync --key-file``) on a server.

The file is JSON, one ``"key reference": "API key"`` pair per paired agent, written by
``mailfleet-desktop sync --export-keys`` on a computer whose keyring holds them. It is read-only
here, and refused unless only its owner may read it (mode 0600 or stricter): a key file anyone
on the host can read would be a key lying around.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError, PasswordSetError

from mailfleet.desktop.services.secrets import SERVICE


class KeyFileError(Exception):
    """The key file cannot be used; the message says why and what to do."""


class KeyFile(KeyringBackend):
    """A read-only keyring backend over one owner-only JSON file."""

    # Never chosen by keyring's own discovery (it constructs backends without arguments):
    # only ``use`` installs it, with a path.
    priority = -1

    def __init__(self, path: Path) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.path = path
        self._keys = _read(path)

    def get_password(self, service: str, username: str) -> str | None:
        """The key kept under ``username`` (the agent's key reference)."""
        return self._keys.get(username) if service == SERVICE else None

    def set_password(self, service: str, username: str, password: str) -> None:
        """Refused: pair agents on a desktop and export its keys again."""
        raise PasswordSetError(f"{self.path} is read-only")

    def delete_password(self, service: str, username: str) -> None:
        """Refused, like ``set_password``."""
        raise PasswordDeleteError(f"{self.path} is read-only")


def _read(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"the key file {path} may be read by others; make it its owner's only (chmod 600)"
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise KeyFileError(f"the key file {path} is not one written by --export-keys") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise KeyFileError(f"the key file {path} is not one written by --export-keys")
    return data


def use(path: Path) -> KeyFile:
    """Make the key file at ``path`` this process's keyring (``KeyFileError`` if unusable)."""
    backend = KeyFile(path)
    keyring.set_keyring(backend)
    return backend


def write(path: Path, keys: Mapping[str, str]) -> None:
    """Write ``keys`` (key reference → API key) to a new owner-only file at ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        json.dump(dict(keys), f, indent=1)
