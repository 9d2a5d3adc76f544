"""The lowest versions pyproject.toml allows are real: installed together in a scratch venv,
they run the agent's end-to-end demo.

Every direct dependency is pinned at its floor (its ``>=`` bound); what they depend on
resolves freely, as it would for a user whose other packages hold ours back.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]


def floors(requirements: list[str]) -> dict[str, str]:
    """Each requirement's lowest allowed version, by name."""
    found = {}
    for line in requirements:
        requirement = Requirement(line)
        lowest = [s.version for s in requirement.specifier if s.operator == ">="]
        assert lowest, f"{line}: every dependency needs a floor (>=) the tests can install"
        found[requirement.name] = lowest[0]
    return found


def _agent_requirements() -> list[str]:
    return list(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])


def _run(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
    )


@pytest.mark.timeout(1500)
def test_the_agent_runs_on_the_lowest_versions_it_allows(tmp_path: Path) -> None:
    pinned = floors(_agent_requirements())
    constraints = tmp_path / "floors.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in pinned.items()))
    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = str(venv / "bin" / "python")
    installed = _run(
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", str(constraints), str(REPO), cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    frozen = _run(python, "-m", "pip", "list", "--format=freeze", cwd=tmp_path)
    versions = {
        canonicalize_name(name): Version(version)
        for name, version in (line.split("==") for line in frozen.stdout.split())
    }
    for name, version in pinned.items():
        assert versions.get(canonicalize_name(name)) == Version(version), name

    # -P: the installed package, not this checkout (the tests' working directory).
    demo = _run(python, "-P", "-m", "mailfleet.agent.demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "check: every recipient received exactly one message" in demo.stdout
