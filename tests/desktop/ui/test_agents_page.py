"""The Agents page against real agents: pairing, a refused fingerprint, the local agent and its
captured mail."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.agent.client import AgentStubs
from mailfleet.agent.dkim.keys import generate_key
from mailfleet.desktop.agents import registry
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.agents_page import DOMAINS_COLUMN, WARNING, AgentsPage
from mailfleet.desktop.ui.fleet_sync import FleetSync
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.v1 import (
    common_pb2,
    smtp_users_pb2,
    transactional_pb2,
)
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess


def make_page(qtbot: QtBot, engine: Engine, local_dir: Path) -> AgentsPage:
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    sync = FleetSync(engine, ws)
    page = AgentsPage(engine, ws, TaskRunner(), sync, local_dir)
    qtbot.addWidget(page)
    page.resize(1000, 500)
    page.show()
    return page


def cell(page: AgentsPage, row: int, column: int) -> str:
    item = page.table.item(row, column)
    return item.text() if item is not None else ""


def test_pairing_shows_live_status_and_a_wrong_fingerprint_is_refused(
    qtbot: QtBot,
    sqlite_engine: Engine,
    shared_agent: AgentProcess,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    page = make_page(qtbot, sqlite_engine, tmp_path / "local")
    qtbot.waitUntil(page.empty.isVisible)
    real = shared_agent.pairing
    page.pairing.setText(str(real).replace(real.fingerprint, "f" * 64))
    page.add_button.click()
    qtbot.waitUntil(lambda: "certificate mismatch" in page.message.text(), timeout=15_000)
    assert page.table.rowCount() == 0
    page.grab().save(str(artifacts / "agents-fingerprint-refused.png"))

    shared_agent.stubs().smtp_users.AddSendingDomain(
        smtp_users_pb2.SendingDomainRequest(domain="shop.example.com")
    )
    page.pairing.setText(str(real))
    page.name.setText("Paris")
    page.add_button.click()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=15_000)
    qtbot.waitUntil(lambda: cell(page, 0, 2) == "serving", timeout=15_000)
    assert cell(page, 0, 0) == "Paris" and cell(page, 0, 3)
    qtbot.waitUntil(lambda: cell(page, 0, 6) == "Up to date", timeout=15_000)
    assert "shop.example.com" in cell(page, 0, 7)
    page.grab().save(str(artifacts / "agents-paired.png"))
    close(qtbot, page)


def close(qtbot: QtBot, page: AgentsPage) -> None:
    """Stop the page's threads and let their last results arrive before it is deleted."""
    page.shutdown()
    page.runner.wait()
    qtbot.wait(200)


def test_a_local_agent_captures_instead_of_sending_and_the_viewer_shows_it(
    qtbot: QtBot,
    sqlite_engine: Engine,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    page = make_page(qtbot, sqlite_engine, tmp_path / "local")
    try:
        page.local_button.click()
        qtbot.waitUntil(lambda: page.local is not None, timeout=40_000)
        qtbot.waitUntil(lambda: cell(page, 0, 2) == "serving", timeout=15_000)
        assert cell(page, 0, 0).endswith("(local)")
        assert not page.local_button.isEnabled()
        record = page.records[0]
        assert record.host == "127.0.0.1"
        with registry.channel(record) as ch:
            AgentStubs.on(ch).transactional.SendMessage(
                transactional_pb2.SendMessageRequest(
                    idempotency_key="welcome-1",
                    sender=common_pb2.Sender(from_address="shop@example.com"),
                    to=common_pb2.Recipient(email="someone@example.org", name="Someone"),
                    content=common_pb2.Content(subject="Welcome", html="<h1>Hello there</h1>"),
                )
            )
        page.table.selectRow(0)
        viewer = page.open_capture()
        assert viewer is not None
        qtbot.addWidget(viewer)

        def shown() -> bool:
            viewer.refresh()
            qtbot.wait(300)
            return "Hello there" in viewer.body.toPlainText()

        qtbot.waitUntil(shown, timeout=30_000)
        assert viewer.table.item(0, 2).text() == "someone@example.org"  # type: ignore[union-attr]
        assert "Subject: Welcome" in viewer.headers.text()
        viewer.grab().save(str(artifacts / "captured-mail.png"))
        page.grab().save(str(artifacts / "agents-local.png"))
    finally:
        close(qtbot, page)


def test_the_agents_sending_domains_show_their_dkim_keys_and_unsigned_ones_warn(
    qtbot: QtBot,
    sqlite_engine: Engine,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    proc = AgentProcess(tmp_path / "agent")
    generate_key(proc.data_dir / "dkim", "shop.example.com", "s1", "rsa")
    generate_key(proc.data_dir / "dkim", "shop.example.com", "s2", "ed25519")
    proc.start()
    try:
        for domain in ("shop.example.com", "plain.example.com"):
            proc.stubs().smtp_users.AddSendingDomain(
                smtp_users_pb2.SendingDomainRequest(domain=domain)
            )
        page = make_page(qtbot, sqlite_engine, tmp_path / "local")
        page.pairing.setText(str(proc.pairing))
        page.name.setText("Lyon")
        page.add_button.click()
        qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=15_000)
        qtbot.waitUntil(lambda: cell(page, 0, 2) == "serving", timeout=15_000)
        assert cell(page, 0, DOMAINS_COLUMN) == (
            "plain.example.com — no DKIM key; shop.example.com — DKIM rsa+ed25519 (s1, s2)"
        )
        item = page.table.item(0, DOMAINS_COLUMN)
        assert item is not None and item.foreground().color().name() == WARNING
        page.table.selectRow(0)
        details = page.details.text()
        assert "shop.example.com — DKIM rsa+ed25519 (s1, s2)" in details
        assert f'color:{WARNING}">plain.example.com — no DKIM key' in details
        assert "create its key under “Sending domains…”" in details
        page.grab().save(str(artifacts / "agents-dkim.png"))
        close(qtbot, page)
    finally:
        proc.close()
