"""A keyring backend for the tests: a real backend class, registered through keyring's API.

It keeps secrets in a 0600 JSON file in the test's temporary directory, so tests never touch
the developer's own keyring and the desktop code runs unchanged against ``keyring``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

PATH_VARIABLE = "MAILFLEET_TEST_KEYRING"


class FileKeyring(KeyringBackend):
    """Secrets in one owner-only file."""

    priority = 1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        # A child process (the desktop ``make run`` starts) chooses this backend by name in
        # PYTHON_KEYRING_BACKEND, which constructs it without arguments: the file is named
        # in the environment then. keyring's own discovery also constructs every backend
        # class without arguments, and skips those that raise TypeError.
        if path is None and PATH_VARIABLE not in os.environ:
            raise TypeError(f"FileKeyring needs a path, or {PATH_VARIABLE} set")
        self.path = path or Path(os.environ[PATH_VARIABLE])

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _save(self, data: dict[str, str]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(data)


def install(path: Path) -> FileKeyring:
    """Make a file keyring at ``path`` the process's keyring."""
    backend = FileKeyring(path)
    keyring.set_keyring(backend)
    return backend
