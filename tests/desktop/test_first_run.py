"""``make run`` on a fresh machine: the desktop opens with the local agent already paired as a
capture agent, and offers no second one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, create_engine

from mailfleet.agent.client.localagent import free_port, read_pairing
from mailfleet.agent.runlocal import desktop_command
from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.delivery_mode import DeliveryMode
from mailfleet.desktop.agents.localagent import LOCAL_NAME
from mailfleet.desktop.app import open_window, parse_args
from mailfleet.desktop.services.workspaces import DEFAULT_WORKSPACE, ensure_workspace
from mailfleet.desktop.ui.agents_page import COLUMNS, DELIVERY_TEXT, AgentsPage
from mailfleet.desktop.ui.fleet_sync import FleetSync
from mailfleet.desktop.ui.qt import QSettings
from mailfleet.desktop.ui.tasks import TaskRunner
from tests.desktop.keyring_backend import PATH_VARIABLE, FileKeyring, install
from tests.peers.agent import AgentProcess

REPO = Path(__file__).resolve().parents[2]
CAPTURE = DELIVERY_TEXT[DeliveryMode.CAPTURE]


@contextmanager
def settings_in(config_home: Path) -> Iterator[None]:
    """Qt's user settings read from ``config_home`` (as ``XDG_CONFIG_HOME``) meanwhile."""
    native, user = QSettings.Format.NativeFormat, QSettings.Scope.UserScope
    QSettings.setPath(native, user, str(config_home))
    try:
        yield
    finally:
        default = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        QSettings.setPath(native, user, default)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """``python -m mailfleet.agent.runlocal`` as ``make run`` runs it, in a fresh home: its agent
    in a temporary data directory, its desktop offscreen with a file keyring."""
    data_dir = tmp_path / "var" / "agent"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHON_KEYRING_BACKEND": f"{FileKeyring.__module__}.{FileKeyring.__name__}",
        PATH_VARIABLE: str(tmp_path / "keyring.json"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailfleet.agent.runlocal", "--data-dir", str(data_dir),
         "--grpc-listen", f"127.0.0.1:{free_port()}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield proc, data_dir, tmp_path / "data" / "mailfleet" / "desktop.sqlite3"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def test_make_run_opens_the_desktop_with_its_capture_agent_paired_and_no_second_one(
    qtbot: QtBot,
    make_run: tuple[subprocess.Popen[bytes], Path, Path],
    tmp_path: Path,
    qsettings: object,
    artifacts: Path,
) -> None:
    proc, data_dir, database = make_run
    engine = create_engine(f"sqlite:///{database}")

    def paired() -> list[registry.AgentRecord]:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited: {proc.stdout.read() if proc.stdout else ''!r}")
        if not database.exists():
            return []
        with engine.connect() as conn:
            try:
                return registry.list_agents(conn, ensure_workspace(conn, DEFAULT_WORKSPACE))
            except Exception:  # the desktop is still creating its tables
                return []

    # The desktop make run started pairs its agent by itself, with no pairing string pasted.
    qtbot.waitUntil(lambda: len(paired()) == 1, timeout=120_000)
    (record,) = paired()
    assert record.name == LOCAL_NAME
    assert record.local_dir == str(data_dir.resolve())
    assert (record.host, record.port) == (read_pairing(data_dir).host, read_pairing(data_dir).port)

    # The same window, opened here as make run opens it, shows it as a capture agent and
    # offers no second local agent; pairing "again" attaches to the same one.
    install(tmp_path / "keyring.json")
    args = desktop_command(data_dir)[3:]
    # With make run's settings too: they say which person of the workspace this desktop is
    # (its owner); a desktop with settings of its own would be a teammate not yet invited.
    with settings_in(tmp_path / "config"):
        window = open_window(parse_args(["--database-url", f"sqlite:///{database}", *args]))
    qtbot.addWidget(window)
    window.resize(1200, 600)
    window.show()
    window.go("Agents")
    page = window.agents
    delivery = COLUMNS.index("Delivery")

    def cell(column: int) -> str:
        item = page.table.item(0, column)
        return item.text() if item is not None else ""

    qtbot.waitUntil(lambda: cell(delivery) == CAPTURE, timeout=30_000)
    assert page.table.rowCount() == 1
    assert cell(0) == f"{LOCAL_NAME} (local)"
    assert not page.local_button.isVisibleTo(page)
    page.start_local()
    qtbot.waitUntil(lambda: "nothing leaves this machine" in page.message.text(), timeout=30_000)
    assert page.local is None  # attached to make run's agent, none started
    assert len(paired()) == 1
    window.grab().save(str(artifacts / "first-run-agents.png"))
    window.close()
    window.runner.wait()
    window.engine.dispose()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


def test_without_a_password_store_pairing_explains_itself_and_try_again_pairs(
    qtbot: QtBot, sqlite_engine: Engine, tmp_path: Path, artifacts: Path
) -> None:
    proc = AgentProcess(tmp_path / "agent")
    proc.start()
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    page = AgentsPage(sqlite_engine, ws, TaskRunner(), FleetSync(sqlite_engine, ws),
                      tmp_path / "own-local", running_local=proc.data_dir)  # fmt: skip
    qtbot.addWidget(page)
    page.resize(1000, 400)
    page.show()
    try:
        qtbot.waitUntil(page.retry_button.isVisible, timeout=30_000)
        text = page.message.text()
        assert "password store" in text and "GNOME Keyring" in text
        assert "PYTHON_KEYRING_BACKEND" not in text and "keyrings" not in text
        assert page.table.rowCount() == 0
        page.grab().save(str(artifacts / "first-run-no-keyring.png"))

        install(tmp_path / "keyring.json")
        page.retry_button.click()
        qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=30_000)
        assert page.local is None and not page.local_button.isVisibleTo(page)

        # The password store goes away later (locked, not started at the next login): the page
        # says so in the same words, and Try again checks the agents once it is back.
        keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
        page.poll()
        qtbot.waitUntil(lambda: "cannot be reached yet" in page.message.text(), timeout=30_000)
        assert "password store" in page.message.text() and page.retry_button.isVisible()
        install(tmp_path / "keyring.json")
        page.retry_button.click()
        qtbot.waitUntil(lambda: page.table.item(0, 2).text() == "serving", timeout=30_000)  # type: ignore[union-attr]
        assert not page.retry_button.isVisible() and page.message.text() == ""
    finally:
        page.shutdown()
        page.runner.wait()
        keyring.set_keyring(before)
        proc.close()
