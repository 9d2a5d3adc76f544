"""Applying the agents' signup changes to the contacts: exactly once, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select

from mailfleet.desktop.db.models import (
    Agent,
    ConsentRecord,
    Contact,
    ListMembership,
    Suppression,
    SuppressionReason,
)
from mailfleet.desktop.services import privacy, retention, signup_expiry, signups, suppression
from mailfleet.desktop.services.signups import Consent, SignupChange
from mailfleet.desktop.services.workspaces import create_list

SIGNED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CONFIRMED_AT = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)


def agent_row(engine: Engine, workspace: int, name: str = "a", port: int = 1) -> int:
    with engine.begin() as conn:
        agent_id = conn.scalar(
            insert(Agent).values(workspace_id=workspace, name=name, host="127.0.0.1", port=port,
                                 fingerprint="0" * 64, key_ref="k", event_cursor=0)
            .returning(Agent.id)
        )  # fmt: skip
    assert agent_id is not None
    return int(agent_id)


def change(seq: int, kind: str, signup_id: int, email: str, lists: tuple[str, ...]) -> SignupChange:
    confirmed = kind == signups.CONFIRMED
    consent = Consent(
        time=SIGNED, ip="192.0.2.7", user_agent="Firefox", text="I agree to the news.",
        version="1", confirmed_at=CONFIRMED_AT if confirmed else None,
        confirm_ip="192.0.2.8" if confirmed else "",
        confirm_user_agent="Firefox" if confirmed else "",
    )  # fmt: skip
    return SignupChange(seq, kind, signup_id, "f1", email, consent,
                        {"first_name": "Ada"}, lists)  # fmt: skip


def status(engine: Engine, workspace: int, email: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.scalar(
                select(Contact.status).where(
                    Contact.workspace_id == workspace, Contact.email == email
                )
            )
        )


def members(engine: Engine, list_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(ListMembership)
                .where(ListMembership.list_id == list_id)
            )
            or 0
        )


def test_signup_then_confirmation_applies_once_and_replays_change_nothing(
    engine: Engine, workspace: int, tmp_path: Path
) -> None:
    agent_id = agent_row(engine, workspace)
    with engine.begin() as conn:
        news = create_list(conn, workspace, "News")
    first = [change(3, signups.SIGNED_UP, 10, "ada@example.org", (str(news),))]
    applied = signups.apply_changes(engine, workspace, agent_id, first, 3)
    assert (applied.changes, applied.signed_up, applied.cursor) == (1, 1, 3)
    assert status(engine, workspace, "ada@example.org") == "unconfirmed"
    assert members(engine, news) == 0  # not on the list before the confirmation

    both = [*first, change(5, signups.CONFIRMED, 10, "ada@example.org", (str(news),))]
    applied = signups.apply_changes(engine, workspace, agent_id, both, 5)
    assert (applied.changes, applied.confirmed, applied.cursor) == (1, 1, 5)
    assert status(engine, workspace, "ada@example.org") == "subscribed"
    assert members(engine, news) == 1

    # The same pages again (a crash before the page was known applied, or a second desktop):
    # nothing new, the signed-up change does not undo the confirmation.
    again = signups.apply_changes(engine, workspace, agent_id, both, 5)
    assert again.changes == 0
    with engine.connect() as conn:
        records = conn.execute(select(ConsentRecord)).all()
        contact_id = conn.scalar(select(Contact.id).where(Contact.email == "ada@example.org"))
        assert contact_id is not None
        exported = privacy.contact_record(conn, workspace, contact_id)
    assert [(r.status, r.confirm_ip, r.consent_version) for r in records] == [
        ("confirmed", "192.0.2.8", "1")
    ]
    assert exported["first_name"] == "Ada"
    assert exported["consent_records"] == [
        {
            "form_id": "f1", "form": "", "status": "confirmed", "signed_up_at": SIGNED.isoformat(),
            "ip": "192.0.2.7", "user_agent": "Firefox", "consent_text": "I agree to the news.",
            "consent_version": "1", "confirmed_at": CONFIRMED_AT.isoformat(),
            "confirm_ip": "192.0.2.8", "confirm_user_agent": "Firefox",
        }
    ]  # fmt: skip
    json.dumps(exported)


def test_a_suppressed_address_stays_suppressed_until_its_confirmation(
    engine: Engine, workspace: int
) -> None:
    agent_id = agent_row(engine, workspace)
    with engine.begin() as conn:
        news = create_list(conn, workspace, "News")
        conn.execute(
            insert(Contact).values(
                workspace_id=workspace, email="bo@example.org", email_key="bo@example.org"
            )
        )
        suppression.add(conn, workspace, "bo@example.org", SuppressionReason.UNSUBSCRIBED)
        suppression.add(conn, workspace, "cy@example.org", SuppressionReason.COMPLAINED)
    signups.apply_changes(engine, workspace, agent_id, [
        change(1, signups.SIGNED_UP, 1, "bo@example.org", (str(news),)),
        change(2, signups.SIGNED_UP, 2, "cy@example.org", (str(news),)),
    ])  # fmt: skip
    assert status(engine, workspace, "bo@example.org") == "unsubscribed"
    signups.apply_changes(engine, workspace, agent_id, [
        change(3, signups.CONFIRMED, 1, "bo@example.org", (str(news),)),
        change(4, signups.CONFIRMED, 2, "cy@example.org", (str(news),)),
    ])  # fmt: skip
    with engine.connect() as conn:
        left = conn.execute(select(Suppression.email, Suppression.reason)).all()
    # The unsubscribe is lifted by the confirmation; a complaint is not.
    assert [tuple(r) for r in left] == [("cy@example.org", "complained")]
    assert status(engine, workspace, "bo@example.org") == "subscribed"
    assert status(engine, workspace, "cy@example.org") == "unconfirmed"


def test_each_agent_has_its_own_cursor(engine: Engine, workspace: int) -> None:
    one, two = agent_row(engine, workspace, "one"), agent_row(engine, workspace, "two", 2)
    signups.apply_changes(engine, workspace, one, [change(7, signups.SIGNED_UP, 1, "a@x.org", ())])
    applied = signups.apply_changes(
        engine, workspace, two, [change(7, signups.SIGNED_UP, 1, "b@x.org", ())]
    )
    assert applied.changes == 1
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ConsentRecord)) == 2


def test_an_apps_field_update_and_unsubscribes_reach_the_contact(
    engine: Engine, workspace: int
) -> None:
    agent_id = agent_row(engine, workspace)
    with engine.begin() as conn:
        news = create_list(conn, workspace, "News")
        sale = create_list(conn, workspace, "Sale")
    signups.apply_changes(engine, workspace, agent_id, [
        change(1, signups.CONFIRMED, 1, "ada@example.org", (str(news), str(sale))),
    ])  # fmt: skip
    consent = Consent(time=SIGNED)
    update = SignupChange(2, signups.FIELDS_UPDATED, 0, "", "Ada@example.org", consent,
                          {"first_name": "Adelaide"})  # fmt: skip
    stranger = SignupChange(3, signups.FIELDS_UPDATED, 0, "", "eve@example.org", consent,
                            {"first_name": "Eve"})  # fmt: skip
    leave = SignupChange(4, signups.UNSUBSCRIBED, 0, "", "ada@example.org", consent,
                         lists=(str(sale),))  # fmt: skip
    applied = signups.apply_changes(engine, workspace, agent_id, [update, stranger, leave])
    assert applied.changes == 3
    with engine.connect() as conn:
        names = conn.execute(select(Contact.email, Contact.first_name)).all()
    # the contact got the field; an update of an address it does not have creates no contact
    assert [tuple(r) for r in names] == [("ada@example.org", "Adelaide")]
    assert (members(engine, news), members(engine, sale)) == (1, 0)
    assert status(engine, workspace, "ada@example.org") == "subscribed"

    everything = SignupChange(5, signups.UNSUBSCRIBED, 0, "", "ada@example.org", consent)
    signups.apply_changes(engine, workspace, agent_id, [everything])
    assert status(engine, workspace, "ada@example.org") == "unsubscribed"
    with engine.connect() as conn:
        entries = conn.execute(select(Suppression.email, Suppression.source)).all()
    assert [tuple(r) for r in entries] == [("ada@example.org", f"agent {agent_id} signup change 5")]


def test_retention_forgets_contacts_whose_signups_all_expired_long_ago(
    engine: Engine, workspace: int
) -> None:
    agent_id = agent_row(engine, workspace)
    old = [
        change(1, signups.SIGNED_UP, 1, "gone@example.org", ()),
        change(2, signups.EXPIRED, 1, "gone@example.org", ()),
        change(3, signups.SIGNED_UP, 2, "kept@example.org", ()),
        change(4, signups.CONFIRMED, 2, "kept@example.org", ()),
        change(5, signups.SIGNED_UP, 3, "waiting@example.org", ()),
    ]
    signups.apply_changes(engine, workspace, agent_id, old, 5)
    soon = SIGNED + timedelta(days=signup_expiry.DAYS - 1)
    with engine.begin() as conn:
        retention.prune(conn, workspace, now=soon)
    assert len(emails_of(engine, workspace)) == 3  # not yet
    with engine.begin() as conn:
        retention.prune(conn, workspace, now=SIGNED + timedelta(days=signup_expiry.DAYS + 1))
    assert emails_of(engine, workspace) == {
        "kept@example.org": "subscribed",
        "waiting@example.org": "unconfirmed",  # its link may still be followed
    }
    with engine.connect() as conn:
        assert {r.status for r in conn.execute(select(ConsentRecord))} == {"confirmed", "pending"}


def emails_of(engine: Engine, workspace: int) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Contact.email, Contact.status).where(Contact.workspace_id == workspace)
        )
        return {email: status for email, status in rows}
