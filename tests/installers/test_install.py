"""The agent installer, run for real into a temporary root: install, use, upgrade, remove."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from packaging.utils import canonicalize_name

from mailfleet.agent import client
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import free_port
from mailfleet.agent.identity.pairing import Pairing, parse
from mailfleet.v1 import admin_pb2
from tests.installers.test_constraints import pins

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "installers" / "agent" / "install.sh"
UNIT = "etc/systemd/system/mailfleet-agent.service"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the installer changes ownership to the mailfleet user: needs root"
)


def _seed_root(root: Path) -> None:
    """The account files useradd --prefix edits, as on a bare system."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\n")


def _python() -> str:
    """A system Python for the agent's virtualenv (the test's own may itself be a venv)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix) / "bin" / f"python{version}"
    return str(base if base.exists() else sys.executable)


def _install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(INSTALLER), "--root", str(root), "--python", _python(), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _serve(root: Path) -> subprocess.Popen[bytes]:
    """The installed agent, started as the unit would start it (data under the root).

    Through the release's Python: its scripts name the paths the image will have.
    """
    return subprocess.Popen(
        [
            str(root / "opt/mailfleet/venv/bin/python"),
            "-P",  # the installed package, not the checkout the tests run in
            "-m",
            "mailfleet.agent.cli",
            "serve",
            "--config",
            str(root / "etc/mailfleet/agent.toml"),
        ],
        env={**os.environ, "MAILFLEET_DATA_DIR": str(root / "var/lib/mailfleet")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_serving(pairing: Pairing, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            with client.channel(pairing) as ch:
                reply = AgentStubs.on(ch).health.Check(health_pb2.HealthCheckRequest(), timeout=2)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except (OSError, grpc.RpcError):
            pass
        time.sleep(0.2)
    raise AssertionError("the installed agent did not become healthy")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    assert proc.wait(30) == 0


# Three real installs of the agent and its dependencies: slow on a busy machine.
@pytest.mark.timeout(900)
def test_install_upgrade_uninstall_into_a_temporary_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _seed_root(root)
    port = free_port()

    first = _install(
        root, "--listen", f"127.0.0.1:{port}", "--http-listen", f"127.0.0.1:{free_port()}"
    )
    assert first.returncode == 0, first.stderr
    pairing = parse(first.stdout.strip().splitlines()[-1])
    assert (pairing.host, pairing.port) == ("127.0.0.1", port)

    # The system user, the layout and its modes.
    user = next(
        line.split(":")
        for line in (root / "etc/passwd").read_text().splitlines()
        if line.startswith("mailfleet:")
    )
    uid, gid, home, shell = int(user[2]), int(user[3]), user[5], user[6]
    assert (home, shell) == ("/var/lib/mailfleet", "/usr/sbin/nologin")
    assert uid < 1000  # a system account
    data = root / "var/lib/mailfleet"
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data.stat().st_uid, (data / "agent.db").stat().st_uid) == (uid, uid)
    assert (data / "secrets" / "admin.key").stat().st_mode & 0o777 == 0o600
    config = root / "etc/mailfleet/agent.toml"
    assert config.stat().st_mode & 0o777 == 0o640
    assert (config.stat().st_uid, config.stat().st_gid) == (0, gid)
    assert 'data_dir = "/var/lib/mailfleet"' in config.read_text()

    # The unit: hardened, pointing at the installed paths, and valid for systemd.
    unit = (root / UNIT).read_text()
    for directive in (
        "User=mailfleet",
        "ExecStart=/opt/mailfleet/venv/bin/mailfleet-agent serve"
        " --config /etc/mailfleet/agent.toml",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/mailfleet",
        "PrivateTmp=yes",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "Restart=on-failure",
    ):
        assert directive in unit.splitlines(), directive
    assert not re.search(r"@[A-Z_]+@", unit.split("[Unit]", 1)[1]), "a placeholder was left"
    _verify_unit(root, unit, tmp_path)

    # The installed program runs and answers with the printed pairing string.
    proc = _serve(root)
    try:
        _wait_serving(pairing, proc)
        with client.channel(pairing) as ch:
            AgentStubs.on(ch).admin.CreateTenant(
                admin_pb2.CreateTenantRequest(name="kept-across-upgrades"), timeout=10
            )
    finally:
        _stop(proc)

    _check_relocated(root)
    _check_agent_only(root)
    first_release = (root / "opt/mailfleet/venv").readlink()

    # Re-running upgrades: the new release is installed beside the running agent, which
    # serves on meanwhile; a failed install changes nothing. The pairing string (an admin
    # key) is printed again only when asked for.
    proc = _serve(root)
    try:
        _wait_serving(pairing, proc)
        failed = _install(root, "--source", str(tmp_path / "missing.whl"))
        assert failed.returncode != 0
        assert "nothing in service was changed" in failed.stderr
        assert (root / "opt/mailfleet/venv").readlink() == first_release
        assert sorted((root / "opt/mailfleet/releases").iterdir()) == [
            root / "opt/mailfleet" / first_release
        ]
        again = _install(root)
        assert again.returncode == 0, again.stderr
        assert again.stdout == ""
        assert "--show-pairing prints it again" in again.stderr
        assert proc.poll() is None
        _wait_serving(pairing, proc)
    finally:
        _stop(proc)
    assert (root / "opt/mailfleet/venv").readlink() != first_release
    assert len(list((root / "opt/mailfleet/releases").iterdir())) == 2  # and the one before
    shown = _install(root, "--show-pairing")
    assert shown.returncode == 0, shown.stderr
    assert parse(shown.stdout.strip().splitlines()[-1]) == pairing
    assert len(list((root / "opt/mailfleet/releases").iterdir())) == 2  # the oldest went
    proc = _serve(root)
    try:
        _wait_serving(pairing, proc)
        with client.channel(pairing) as ch:
            names = [
                t.name
                for t in AgentStubs.on(ch)
                .admin.ListTenants(admin_pb2.ListTenantsRequest(), timeout=10)
                .tenants
            ]
        assert "kept-across-upgrades" in names
    finally:
        _stop(proc)

    # Uninstall keeps data and config; --purge removes them and the user.
    removed = _install(root, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (root / UNIT).exists()
    assert not (root / "opt/mailfleet").exists()
    assert (data / "agent.db").exists() and config.exists()
    purged = _install(root, "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not data.exists() and not config.exists()
    assert "mailfleet:" not in (root / "etc/passwd").read_text()


def _check_agent_only(root: Path) -> None:
    """A send server gets the agent without the desktop's Qt and database packages."""
    venv = root / "opt/mailfleet/venv"
    site = next((venv / "lib").glob("python3.*/site-packages"))
    brought = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert brought.isdisjoint({"pyside6_essentials", "pyside6_addons", "sqlalchemy", "alembic",
                               "keyring", "psycopg"}), brought  # fmt: skip
    # Everything the distribution installs is under its own import name: no generic `agent`.
    record = next(site.glob("mailfleet-*.dist-info")) / "RECORD"
    tops = {line.split("/")[0] for line in record.read_text().splitlines() if "/" in line}
    assert {t for t in tops if not t.startswith(("mailfleet", ".."))} == set(), tops
    assert not (site / "agent").exists() and not (site / "desktop").exists()
    # The versions the installer pins, not whatever the index offers today.
    listed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()  # fmt: skip
    versions: dict[str, str] = {}
    for line in listed:
        name, version = line.split("==")
        versions[canonicalize_name(name)] = version
    for name, pin in pins().items():
        (version,) = (s.version for s in pin.specifier)
        assert versions.get(name) == version, pin
    size = sum(p.lstat().st_size for p in venv.resolve().rglob("*"))
    assert size < 150 * 2**20, f"the agent's install is {size / 2**20:.0f} MiB"
    desktop = subprocess.run(
        [str(venv / "bin/python"), "-P", "-m", "mailfleet.desktop.launch"],
        capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert desktop.returncode == 2
    assert desktop.stderr.strip() == (
        "mailfleet-desktop: this install has the agent only; the desktop needs"
        " pip install 'mailfleet[desktop]'"
    )


def _check_relocated(root: Path) -> None:
    """The release names its paths as the image will see them, and runs there."""
    venv = root / "opt/mailfleet/venv"
    for path in [venv / "pyvenv.cfg", *(venv / "bin").iterdir()]:
        if path.is_file() and not path.is_symlink():
            assert str(root).encode() not in path.read_bytes(), path
    # The image's view: the root's /opt/mailfleet mounted at /opt/mailfleet, in a mount
    # namespace of the command's own (the host's /opt is left alone).
    shown = subprocess.run(
        [
            "unshare", "--mount", "sh", "-c",
            'mount -t tmpfs none /opt && mkdir /opt/mailfleet && mount --bind "$1" /opt/mailfleet'
            " && /opt/mailfleet/venv/bin/mailfleet-agent --version",
            "sh", str(root / "opt/mailfleet"),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("mailfleet-agent ")


def _verify_unit(root: Path, unit: str, tmp_path: Path) -> None:
    """``systemd-analyze verify`` checks the executables exist: point it at the root's."""
    verify = shutil.which("systemd-analyze")
    assert verify, "systemd-analyze is needed (apt install systemd)"
    checked = tmp_path / "mailfleet-agent.service"
    checked.write_text(unit.replace("/opt/mailfleet", str(root / "opt/mailfleet")))
    result = subprocess.run(
        [verify, "verify", "--man=no", str(checked)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "mailfleet-agent.service" not in result.stderr, result.stderr


def test_a_python_older_than_311_is_refused_before_anything_changes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _seed_root(root)
    old = tmp_path / "python3.10"
    # Answers as Ubuntu 22.04's python3 does to the installer's questions.
    old.write_text('#!/bin/sh\ncase "$2" in *print*) echo 3.10 ;; *) exit 1 ;; esac\n')
    old.chmod(0o755)
    result = subprocess.run(
        ["sh", str(INSTALLER), "--root", str(root), "--python", str(old)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"mailfleet: error: --python {old} is Python 3.10; Mailfleet needs Python 3.11 or newer"
    ]
    assert sorted(p.name for p in root.iterdir()) == ["etc"]
    assert "mailfleet:" not in (root / "etc/passwd").read_text()


def test_bad_options_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    result = _install(tmp_path / "missing")
    assert result.returncode != 0
    assert "is not a directory" in result.stderr
    result = subprocess.run(
        ["sh", str(INSTALLER), "--frobnicate"], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "unknown option: --frobnicate" in result.stderr
