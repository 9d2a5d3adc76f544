"""``mailfleet-agent dkim generate`` as an operator runs it."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A minimal agent config whose data dir is ``tmp_path / "data"``."""
    path = tmp_path / "agent.toml"
    path.write_text('data_dir = "data"\n')
    return path


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the agent's command line."""
    return subprocess.run(
        [sys.executable, "-m", "mailfleet.agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("algorithm", "k"), [("rsa", "rsa"), ("ed25519", "ed25519")])
def test_generate_writes_the_key_and_prints_the_record(
    config: Path, tmp_path: Path, algorithm: str, k: str
) -> None:
    out = agent(
        "dkim", "generate", "Shop.Example", "--selector", "s1", "--algorithm", algorithm,
        "--config", str(config),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    name, value = out.stdout.strip().split("  ", 1)
    assert name == "s1._domainkey.shop.example"
    assert value.startswith(f'"v=DKIM1; k={k}; p=') and value.endswith('"')
    key = tmp_path / "data" / "dkim" / "shop.example" / f"s1.{algorithm}.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700


def test_generate_refuses_to_overwrite(config: Path, tmp_path: Path) -> None:
    first = agent("dkim", "generate", "shop.example", "--selector", "s1", "--config", str(config))
    assert first.returncode == 0, first.stderr
    key = tmp_path / "data" / "dkim" / "shop.example" / "s1.rsa.pem"
    before = key.read_bytes()
    again = agent("dkim", "generate", "shop.example", "--selector", "s1", "--config", str(config))
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert again.stdout == ""
    assert key.read_bytes() == before
