"""People, invites and the audit log on the database (SQLite and PostgreSQL), without agents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, update

from mailfleet.desktop.db.models import Agent, Invite, SuppressionReason
from mailfleet.desktop.services import audit_log, invites, people, retention, suppression
from mailfleet.desktop.services.audit_log import AgentEntry, Filter
from mailfleet.desktop.services.invites import InviteError, NewKey
from mailfleet.desktop.services.people import NotAllowed, Role, Seat
from tests.desktop.keyring_backend import FileKeyring


def _agent(engine: Engine, ws: int) -> int:
    values = {"workspace_id": ws, "name": "Paris", "host": "h", "port": 1, "fingerprint": "f",
              "key_ref": "agent-owner", "event_cursor": 0}  # fmt: skip
    with engine.begin() as conn:
        new_id = conn.scalar(insert(Agent).values(**values).returning(Agent.id))
    assert new_id is not None
    return int(new_id)


def test_the_first_desktop_owns_the_workspace_and_the_agents_keys(
    engine: Engine, workspace: int
) -> None:
    agent_id = _agent(engine, workspace)
    with engine.begin() as conn:
        first = people.sign_in(conn, workspace, None)
        again = people.sign_in(conn, workspace, None)
    assert first.person is not None and first.person.role is Role.OWNER
    assert first.holds_pairing_keys
    # A second desktop that never joined is nobody, and holds no key.
    assert again.person is None and not again.holds_pairing_keys
    with engine.connect() as conn:
        assert people.key_refs(conn, first.person.id) == {agent_id: "agent-owner"}


def test_an_invite_opens_once_and_only_with_its_own_secret(
    engine: Engine, workspace: int, secure_keyring: FileKeyring
) -> None:
    agent_id = _agent(engine, workspace)
    with engine.begin() as conn:
        people.sign_in(conn, workspace, None)
        maria = people.add_person(conn, workspace, "Maria", Role.MARKETER)
        text = invites.create(conn, maria, [NewKey(agent_id, "k1", "mf_k1_secret")])
    forged = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
    with engine.begin() as conn, pytest.raises(InviteError, match="not one of this workspace"):
        invites.redeem(conn, workspace, forged)
    with engine.begin() as conn:
        person = invites.redeem(conn, workspace, text)
    assert person.name == "Maria" and person.joined
    with engine.connect() as conn:
        refs = people.key_refs(conn, maria)
    assert secure_keyring.get_password("mailfleet", refs[agent_id]) == "mf_k1_secret"
    with engine.begin() as conn, pytest.raises(InviteError, match="used already"):
        invites.redeem(conn, workspace, text)
    with engine.connect() as conn:
        rows = audit_log.entries(conn, workspace, Filter(person="Maria"))
    assert [(r.action, r.summary) for r in rows] == [("Joined the team", "as marketer")]


def test_an_expired_invite_is_refused(
    engine: Engine, workspace: int, secure_keyring: FileKeyring
) -> None:
    with engine.begin() as conn:
        people.sign_in(conn, workspace, None)
        viewer = people.add_person(conn, workspace, "Vic", Role.VIEWER)
        text = invites.create(conn, viewer, [])
        conn.execute(update(Invite).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with engine.begin() as conn, pytest.raises(InviteError, match="expired"):
        invites.redeem(conn, workspace, text)


def test_roles_refuse_in_the_services(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        owner = people.sign_in(conn, workspace, None).person
        maria = people.add_person(conn, workspace, "Maria", Role.MARKETER)
        suppression.add(conn, workspace, "x@example.com", SuppressionReason.MANUAL, "desktop")
        entry_id = suppression.entries(conn, workspace)[0].id
        marketer = people.get_person(conn, workspace, maria)
    assert owner is not None and marketer is not None
    as_marketer = people.as_seat(engine, Seat(marketer))
    with as_marketer.begin() as conn, pytest.raises(NotAllowed, match="As a marketer"):
        suppression.remove(conn, workspace, entry_id)
    with as_marketer.begin() as conn, pytest.raises(NotAllowed):
        people.add_person(conn, workspace, "Eve", Role.OWNER)
    with people.as_seat(engine, Seat(owner)).begin() as conn:
        # The last owner stays; others go.
        with pytest.raises(NotAllowed, match="only owner"):
            people.remove_person(conn, workspace, owner.id)
        people.remove_person(conn, workspace, maria)
        suppression.remove(conn, workspace, entry_id)
    with engine.connect() as conn:
        assert [p.name for p in people.list_people(conn, workspace)] == [owner.name]
        assert suppression.count(conn, workspace) == 0


def test_agent_entries_are_copied_once_by_cursor(engine: Engine, workspace: int) -> None:
    agent_id = _agent(engine, workspace)
    at = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    batch = [
        AgentEntry(
            i,
            at + timedelta(seconds=i),
            "k1",
            "Maria",
            "10.0.0.1",
            "StartCampaign",
            f"campaign_id={i}",
            "ok",
        )
        for i in (1, 2, 3)
    ]
    with engine.begin() as conn:
        assert audit_log.add_agent_entries(conn, workspace, agent_id, batch[:2], 2) == 2
    with engine.begin() as conn:
        # The same page read again by another desktop, and the next entry with it.
        assert audit_log.add_agent_entries(conn, workspace, agent_id, batch, 3) == 1
    with engine.connect() as conn:
        rows = audit_log.entries(conn, workspace, Filter(source="Paris"))
        desktop = audit_log.entries(conn, workspace, Filter(source=audit_log.DESKTOP))
    assert [r.summary for r in rows] == ["campaign_id=3", "campaign_id=2", "campaign_id=1"]
    assert {(r.person, r.origin) for r in rows} == {("Maria", "10.0.0.1")}
    assert desktop == []


def test_a_viewer_and_a_desktop_that_never_joined_change_nothing(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        people.sign_in(conn, workspace, None)
        vic = people.get_person(conn, workspace, people.add_person(conn, workspace, "Vic",
                                                                  Role.VIEWER))  # fmt: skip
    assert vic is not None
    with pytest.raises(NotAllowed, match="As a viewer"):
        people.check_change(Seat(vic))
    with pytest.raises(NotAllowed, match="Join the team"):
        people.check_change(Seat())
    with people.as_seat(engine, Seat(vic)).begin() as conn, pytest.raises(NotAllowed):
        retention.set_retention_days(conn, workspace, 30)
