"""The desktop bundle: PyInstaller builds the one-folder app, which starts offscreen."""

from __future__ import annotations

import configparser
import os
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DESKTOP = REPO / "installers" / "desktop"
# The first test waits for the build (up to its own 900 s), which collects Qt WebEngine
# (Chromium) for the message preview: longer than the suite's 300 s on a loaded machine.
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/mailfleet-desktop built from the spec, as ``make dist`` does."""
    out = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(out / "dist"),
            "--workpath",
            str(out / "build"),
            str(DESKTOP / "mailfleet-desktop.spec"),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    print(f"bundle built in {time.monotonic() - started:.0f} s")
    return out / "dist" / "mailfleet-desktop"


def _headless_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {
        **env,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }


def test_the_bundle_prints_its_version_offscreen(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(bundle / "mailfleet-desktop"), "--version"],
        env=_headless_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Mailfleet desktop 0.1.0 (Qt 6."), result.stdout
    assert "platform offscreen" in result.stdout


def test_the_bundled_app_opens_and_migrates_its_database(bundle: Path, tmp_path: Path) -> None:
    db = tmp_path / "mailfleet.desktop.db"
    app = subprocess.Popen(
        [str(bundle / "mailfleet-desktop"), "--database-url", f"sqlite:///{db}"],
        env={**_headless_env(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and app.poll() is None:
            if db.exists() and b"alembic_version" in db.read_bytes():
                break
            time.sleep(0.5)
        time.sleep(3)  # the window is up; it must still be running
        assert app.poll() is None, app.stderr.read().decode() if app.stderr else ""
    finally:
        app.terminate()
        app.wait(30)
    tables = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")}
    assert {"alembic_version", "contacts", "workspaces"} <= tables


def test_the_desktop_entry_and_icon_are_well_formed() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(DESKTOP / "mailfleet-desktop.desktop")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Exec"].split()[0] == "mailfleet-desktop"
    assert section["Icon"] == "mailfleet"
    assert section["Categories"].endswith(";")
    icon = ET.parse(DESKTOP / "mailfleet.svg").getroot()  # noqa: S314 - our own file
    assert icon.tag.endswith("svg") and icon.get("viewBox") == "0 0 256 256"
