"""The versions the agent's installer pins (installers/agent/constraints.txt) are in step with
pyproject.toml: every dependency of the agent pinned within its range, nothing of the
desktop's. `make constraints` writes the file again after a dependency changes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "installers" / "agent" / "constraints.txt"


def pins() -> dict[str, Requirement]:
    """The file's pins that apply to this machine, by canonical name."""
    found: dict[str, Requirement] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pin = Requirement(line)
            if pin.marker is None or pin.marker.evaluate():
                found[canonicalize_name(pin.name)] = pin
    return found


def test_every_agent_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = pins()
    for line in project["dependencies"]:
        wanted = Requirement(line)
        if wanted.marker is not None and not wanted.marker.evaluate():
            continue
        pin = pinned.get(canonicalize_name(wanted.name))
        assert pin is not None, f"{wanted.name} is not pinned: run make constraints"
        (version,) = (s.version for s in pin.specifier)
        assert wanted.specifier.contains(version), f"{pin} is outside {wanted}: make constraints"
    for line in project["optional-dependencies"]["desktop"]:
        name = canonicalize_name(Requirement(line).name)
        assert name not in pinned, f"{name} belongs to the desktop, not a send server"
