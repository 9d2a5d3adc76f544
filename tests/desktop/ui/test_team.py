"""Two desktops on one real PostgreSQL team database: the owner invites a marketer, who joins
with their own keys, sends a campaign, and may neither remove an agent nor a suppression; the
audit log shows what both did."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, create_engine, select

from mailfleet.desktop.agents import registry
from mailfleet.desktop.db.engine import open_database
from mailfleet.desktop.db.models import Suppression, SuppressionReason
from mailfleet.desktop.services import audit_log, campaigns, invites, suppression
from mailfleet.desktop.services.audit_log import Filter
from mailfleet.desktop.services.invites import InviteError
from mailfleet.desktop.services.people import NotAllowed, Role
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import QSettings
from mailfleet.v1 import admin_pb2, suppression_pb2
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import AgentFactory, close, draft, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.desktop.postgres import PostgresServer
from tests.peers.smtp import SmtpSink


@pytest.fixture
def team_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server, dropped afterwards."""
    name = f"team_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield postgres.url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as one:
        yield one


def _desktop(qtbot: QtBot, url: str, tmp_path: Path, who: str) -> MainWindow:
    """One app instance: its own engine and its own settings (its own computer's)."""
    engine = open_database(url)
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    settings = QSettings(str(tmp_path / f"{who}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(engine, ws, "Default", settings, tmp_path / f"{who}-local-agent")
    qtbot.addWidget(window)
    window.resize(1200, 760)
    window.show()
    return window


def _entries(engine: Engine, ws: int) -> list[audit_log.Row]:
    with engine.connect() as conn:
        return audit_log.entries(conn, ws, Filter())


def test_an_invited_marketer_sends_but_removes_no_agent_and_no_suppression(
    qtbot: QtBot,
    team_url: str,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    proc = agent_factory(relay_config(sink))
    owner = _desktop(qtbot, team_url, tmp_path, "owner")
    ws = owner.workspace_id
    assert owner.seat.person is not None and owner.seat.person.role is Role.OWNER
    owner.go("Agents")
    owner.agents.pairing.setText(str(proc.pairing))
    owner.agents.name.setText("Paris")
    owner.agents.add_button.click()
    qtbot.waitUntil(lambda: len(owner.agents.records) == 1)
    record = owner.agents.records[0]
    list_id = seed_contacts(owner.engine, ws, 5)
    with owner.engine.begin() as conn:
        suppression.add(conn, ws, "blocked@example.com", SuppressionReason.MANUAL, "desktop")

    owner.go("People")
    owner.people.name.setText("Maria")
    owner.people.role.setCurrentIndex(owner.people.role.findData(Role.MARKETER.value))
    owner.people.invite_button.click()
    qtbot.waitUntil(lambda: owner.people.invite_text.text().startswith(invites.PREFIX))
    invite = owner.people.invite_text.text()
    qtbot.waitUntil(lambda: "Maria" in [p.name for p in owner.people.people])
    assert not next(p for p in owner.people.people if p.name == "Maria").joined

    marketer = _desktop(qtbot, team_url, tmp_path, "marketer")
    assert marketer.seat.person is None
    assert marketer.people.join_row.isVisible()
    # Before joining, the agent is the team's but no key of this desktop's reaches it.
    with marketer.engine.connect() as conn:
        assert registry.get_agent(conn, ws, record.id).key_ref == ""
    marketer.people.join_text.setText(invite)
    marketer.people.join_button.click()
    qtbot.waitUntil(lambda: marketer.seat.person is not None)
    assert marketer.seat.person is not None and marketer.seat.person.name == "Maria"
    assert not marketer.people.join_row.isVisible()
    with marketer.engine.begin() as conn, pytest.raises(InviteError, match="used already"):
        invites.redeem(conn, ws, invite)

    # Her own key, with her role's scope, in her keyring: never the owner's admin key.
    with marketer.engine.connect() as conn:
        hers = registry.get_agent(conn, ws, record.id)
    with owner.engine.connect() as conn:
        owners = registry.get_agent(conn, ws, record.id)
    assert hers.pairing().api_key != owners.pairing().api_key
    assert hers.pairing().api_key != proc.pairing.api_key
    with registry.stubs(owners) as agent:
        keys = agent.admin.ListApiKeys(admin_pb2.ListApiKeysRequest(), timeout=10).keys
    maria = [k for k in keys if k.person == "Maria"]
    assert [k.scope for k in maria] == [admin_pb2.KEY_SCOPE_CAMPAIGNS]
    assert registry.status(hers).reachable

    # She cannot remove the agent: the button says why, the service refuses.
    marketer.go("Agents")
    qtbot.waitUntil(lambda: len(marketer.agents.records) == 1)
    assert not marketer.agents.remove_button.isEnabled()
    assert "marketer" in marketer.agents.remove_button.toolTip()
    with pytest.raises(NotAllowed):
        registry.remove(marketer.engine, ws, record.id)
    marketer.agents.table.selectRow(0)
    marketer.agents.remove()
    qtbot.waitUntil(lambda: "cannot pair and remove agents" in marketer.agents.message.text())
    with owner.engine.connect() as conn:
        assert [a.id for a in registry.list_agents(conn, ws)] == [record.id]

    # Nor a suppression: disabled, refused by the desktop, and refused by the agent itself.
    marketer.go("Suppression")
    qtbot.waitUntil(lambda: marketer.suppression.table.rowCount() == 1)
    assert not marketer.suppression.remove_button.isEnabled()
    marketer.suppression.table.selectRow(0)
    marketer.suppression.remove_selected()
    qtbot.waitUntil(lambda: "cannot take addresses off" in marketer.suppression.status.text())
    with owner.engine.connect() as conn:
        assert conn.scalar(select(Suppression.email).where(Suppression.workspace_id == ws))
    with registry.stubs(hers) as agent, pytest.raises(grpc.RpcError) as refused:
        agent.suppression.RemoveSuppressions(
            suppression_pb2.RemoveSuppressionsRequest(emails=["blocked@example.com"]),
            timeout=10,
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # She sends a campaign with her own key.
    marketer.go("Campaigns")
    campaign_id = campaigns.create(marketer.engine, ws, draft(list_id, ((record.id, 1),)))
    marketer.campaigns.upload(campaign_id)
    sink.wait_for(5, timeout=60)
    assert sorted(r for m in sink.received for r in m.rcpt_to) == sorted(
        f"user{i}@example.com" for i in range(5)
    )

    # The owner's audit log: the desktops' actions and the agent's, by both people.
    owner.go("Audit log")
    owner.audit.refresh()

    def shown() -> set[tuple[str, str, str]]:
        return {(r.person, r.source, r.action) for r in owner.audit.rows}

    qtbot.waitUntil(lambda: ("Maria", "Paris", "StartCampaign") in shown())
    owner_name = owner.seat.person.name
    rows = shown()
    assert (owner_name, "desktop", "Paired an agent") in rows
    assert (owner_name, "desktop", "Invited a teammate") in rows
    assert ("Maria", "desktop", "Joined the team") in rows
    assert ("Maria", "desktop", "Removing an agent") in rows
    assert ("Maria", "desktop", "Removing suppressions") in rows
    assert ("Maria", "Paris", "CreateCampaign") in rows
    assert (owner_name, "Paris", "CreateApiKey") in rows
    refused_rows = [r for r in owner.audit.rows if r.action == "Removing suppressions"]
    assert [r.outcome for r in refused_rows] == ["not allowed"]
    # Copied once, however often the log is read.
    before = len(_entries(owner.engine, ws))
    owner.audit.refresh()
    qtbot.waitUntil(lambda: owner.audit.status.text().endswith(" entries."))
    assert len(_entries(owner.engine, ws)) == before
    # The filters: one person's entries only.
    owner.audit.person.setCurrentIndex(owner.audit.person.findData("Maria"))
    qtbot.waitUntil(lambda: owner.audit.rows and {r.person for r in owner.audit.rows} == {"Maria"})
    exported = tmp_path / "audit.csv"
    owner.audit.export_file(exported)
    qtbot.waitUntil(lambda: "Exported" in owner.audit.status.text())
    with exported.open(encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    assert table[0] == list(audit_log.HEADER)
    assert {row[1] for row in table[1:]} == {"Maria"}
    assert any(row[4] == "StartCampaign" for row in table[1:])
    owner.audit.person.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len({r.person for r in owner.audit.rows}) == 2)

    owner.go("People")
    qtbot.waitUntil(lambda: all(p.joined for p in owner.people.people))
    owner.grab().save(str(artifacts / "team-people.png"))
    owner.go("Audit log")
    qtbot.waitUntil(lambda: owner.audit.status.text().endswith(" entries."))
    owner.grab().save(str(artifacts / "team-audit-log.png"))
    marketer.go("Agents")
    marketer.grab().save(str(artifacts / "team-marketer-agents.png"))
    close(qtbot, marketer)
    close(qtbot, owner)
    marketer.engine.dispose()
    owner.engine.dispose()
