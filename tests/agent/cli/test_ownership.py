"""Commands run as root hand what they write back to the agent's user, other users are
refused, and keys the agent's user cannot read are named instead of skipped in silence."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailfleet.agent.cli.ownership import writer_check
from mailfleet.agent.dkim.keys import generate_key, load_keys, unreadable_report
from mailfleet.agent.errors import ConfigError
from mailfleet.agent.identity.accounts import user_name

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changes file owners: needs root")

# The agent's user in these tests: any uid other than root's will do.
AGENT_UID = AGENT_GID = 65534
AGENT = user_name(AGENT_UID)


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the agent's command line (as root, like ``sudo mailfleet-agent …``)."""
    return subprocess.run(
        [sys.executable, "-m", "mailfleet.agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user may enter, unlike pytest's own temporary folders (0700 root)."""
    with tempfile.TemporaryDirectory() as name:
        os.chmod(name, 0o755)  # noqa: S103 - the point: a folder others may enter
        yield Path(name)


def _owned_by_agent(data: Path) -> Path:
    """An initialised data directory whose every file belongs to the agent's user."""
    done = agent("init", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    for path in [data, *data.rglob("*")]:
        os.chown(path, AGENT_UID, AGENT_GID, follow_symlinks=False)
    return data / "agent.toml"


def _as_agent_user(work: Callable[[], str]) -> str:
    """What ``work`` returns when run with the agent's user as the effective user."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            os.setegid(AGENT_GID)
            os.seteuid(AGENT_UID)
            os.write(write, work().encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    return text


def test_root_running_dkim_generate_leaves_the_key_to_the_agents_user(tmp_path: Path) -> None:
    config = _owned_by_agent(tmp_path / "data")
    done = agent("dkim", "generate", "shop.example", "--selector", "s1", "--config", str(config))
    assert done.returncode == 0, done.stderr
    # The key folder (init makes none), the domain's folder and its key.
    assert f"gave 3 files to {AGENT}," in done.stderr
    dkim = tmp_path / "data" / "dkim"
    for path in [dkim, *dkim.rglob("*")]:
        assert (path.stat().st_uid, path.stat().st_gid) == (AGENT_UID, AGENT_GID), path
    assert (dkim / "shop.example" / "s1.rsa.pem").stat().st_mode & 0o777 == 0o600


def test_root_restoring_a_backup_leaves_the_store_and_keys_to_the_agents_user(
    tmp_path: Path,
) -> None:
    config = _owned_by_agent(tmp_path / "data")
    made = agent("dkim", "generate", "shop.example", "--selector", "s1", "--config", str(config))
    assert made.returncode == 0, made.stderr
    archive = tmp_path / "backup.tar.gz"
    saved = agent("backup", str(archive), "--config", str(config))
    assert saved.returncode == 0, saved.stderr
    restored = agent("restore", str(archive), "--force", "--config", str(config))
    assert restored.returncode == 0, restored.stderr
    root_owned = [p for p in (tmp_path / "data").rglob("*") if p.stat().st_uid == 0]
    assert root_owned == []
    assert (tmp_path / "data" / "dkim" / "shop.example" / "s1.rsa.pem").exists()


def test_a_user_who_does_not_own_the_data_directory_is_refused(open_dir: Path) -> None:
    data = open_dir / "data"
    data.mkdir()  # root's: the agent's user may not write here

    def check() -> str:
        try:
            writer_check(data, "dkim")
        except ConfigError as exc:
            return str(exc)
        return "allowed"

    said = _as_agent_user(check)
    assert said == (
        f"{data} belongs to root: run this as that user"
        " (sudo -u root mailfleet-agent dkim …) or as root"
    )


def test_a_key_the_agents_user_cannot_read_is_reported_not_skipped(open_dir: Path) -> None:
    dkim = open_dir / "dkim"
    generate_key(dkim, "root-made.example", "s1")  # as root runs it: a folder of 0700 root
    generate_key(dkim, "fine.example", "s1")
    os.chmod(dkim, 0o755)  # noqa: S103 - the agent's user enters it, as in a real data dir
    for path in [dkim / "fine.example", *(dkim / "fine.example").iterdir()]:
        os.chown(path, AGENT_UID, AGENT_GID)

    def load() -> str:
        loaded = ",".join(key.domain for key in load_keys(dkim))
        return "\n".join([loaded, *unreadable_report(dkim)])

    loaded, *report = _as_agent_user(load).splitlines()
    assert loaded == "fine.example"
    assert report == [
        f"{dkim / 'root-made.example'} belongs to root and {AGENT} cannot read it;"
        f" mail from root-made.example goes out unsigned until you run:"
        f" chown -R {AGENT} {dkim / 'root-made.example'}"
    ]
