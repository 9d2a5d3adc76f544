"""The PostgreSQL fixture says clearly what is missing instead of skipping."""

from __future__ import annotations

import pytest

from tests.desktop import postgres


def test_missing_binaries_raise_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    with pytest.raises(postgres.PostgresMissing, match="install the Debian package 'postgresql'"):
        postgres.start_postgres()


def test_newest_installed_version_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    found = ["/usr/lib/postgresql/9.6/bin/initdb", "/usr/lib/postgresql/15/bin/initdb",
             "/usr/lib/postgresql/13/bin/initdb"]  # fmt: skip
    monkeypatch.setattr("glob.glob", lambda pattern: found)
    assert str(postgres._bindir()) == "/usr/lib/postgresql/15/bin"
