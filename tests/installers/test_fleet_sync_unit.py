"""The fleet service's systemd unit: valid for systemd, hardened, and its command runs."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "installers" / "fleet-sync" / "mailfleet-fleet-sync@.service"
VENV = "/opt/mailfleet/desktop-venv"
# systemd-analyze security's scale: 0 (locked down) to 10; the agent's unit is about 2.
MOST_EXPOSURE = 2.0


def _instance(tmp_path: Path) -> Path:
    """The unit as an instance for workspace Default, run from this test's Python."""
    here = Path(sys.executable).parent.parent
    unit = tmp_path / "mailfleet-fleet-sync@Default.service"
    unit.write_text(UNIT.read_text().replace(VENV, str(here)))
    return unit


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is needed (apt install systemd)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    unit = _instance(tmp_path)
    result = _analyze("verify", "--man=no", str(unit))
    assert result.returncode == 0, result.stderr
    assert unit.name not in result.stderr, result.stderr


def test_the_unit_is_locked_down(tmp_path: Path) -> None:
    result = _analyze("security", "--offline=true", "--no-pager", str(_instance(tmp_path)))
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MOST_EXPOSURE, result.stdout
    text = UNIT.read_text()
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes",
                    "CapabilityBoundingSet=\n", "LoadCredential=agent-keys:"):  # fmt: skip
        assert setting in text


def test_its_command_line_is_one_the_service_takes(tmp_path: Path) -> None:
    (line,) = [x for x in UNIT.read_text().splitlines() if x.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0] == f"{VENV}/bin/mailfleet-desktop" and argv[1] == "sync"
    options = [a for a in argv[2:] if a.startswith("--")]
    shown = subprocess.run(
        [sys.executable, "-m", "mailfleet.desktop.launch", "sync", "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert options and all(option in shown.stdout for option in options)
