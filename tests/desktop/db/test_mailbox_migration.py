"""Revision 0004 on a database made by 0003: contacts that are one mailbox merge, keeping
their lists, custom values, status and history; new spellings then meet the unique key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from mailfleet.desktop.db.engine import migrate
from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import Contact, Suppression
from mailfleet.desktop.services import suppression
from tests.desktop.db.old_schema import engine_at

NOW = "2026-01-01 00:00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database migrated only up to revision 0003."""
    yield from engine_at(request, tmp_path, "0003")


def _contact(conn: object, email: str, first: str, status: str, fields: str) -> int:
    row = conn.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO contacts (workspace_id, email, first_name, last_name, status, fields, "
            "created_at, updated_at) VALUES (1, :e, :f, '', :s, :j, :t, :t) RETURNING id"
        ),
        {"e": email, "f": first, "s": status, "j": fields, "t": NOW},
    )
    return int(row.scalar_one())


def test_duplicates_merge_into_the_first_contact_keeping_everything(old_engine: Engine) -> None:
    with old_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workspaces (id, name, hash_salt, created_at) VALUES (1, 'W', 's', :t)"
            ),
            {"t": NOW},
        )
        for list_id, name in ((1, "News"), (2, "VIP")):
            conn.execute(
                text(
                    "INSERT INTO lists (id, workspace_id, name, created_at) VALUES (:i, 1, :n, :t)"
                ),
                {"i": list_id, "n": name, "t": NOW},
            )
        first = _contact(conn, "user0002@free.fr", "", "subscribed", '{"city": "Paris"}')
        second = _contact(conn, "USER0002@free.fr", "Zoé", "unsubscribed",
                          '{"city": "Lyon", "plan": "gold"}')  # fmt: skip
        other = _contact(conn, "other@free.fr", "O", "subscribed", "{}")
        idn = _contact(conn, "ann@exämple.com", "A", "subscribed", "{}")
        idn_ascii = _contact(conn, "ANN@xn--exmple-cua.com", "", "subscribed", '{"x": 1}')
        for contact, list_id in ((first, 1), (second, 1), (second, 2), (idn_ascii, 2)):
            conn.execute(
                text("INSERT INTO list_members (contact_id, list_id, added_at) "
                     "VALUES (:c, :l, :t)"),
                {"c": contact, "l": list_id, "t": NOW},
            )  # fmt: skip
        conn.execute(
            text("INSERT INTO engagement_events (workspace_id, contact_id, campaign_id, kind, "
                 "occurred_at) VALUES (1, :c, 7, 'opened', :t)"),
            {"c": second, "t": NOW},
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO agents (id, workspace_id, name, host, port, fingerprint, key_ref, "
                 "event_cursor, created_at) VALUES (1, 1, 'a', 'h', 1, 'f', 'k', 0, :t)"),
            {"t": NOW},
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO campaigns (id, workspace_id, name, state, audience, subject, html, "
                 "text, from_name, from_address, reply_to, throttle_per_minute, time_zone, "
                 "key_prefix, recipients, created_at) VALUES (7, 1, 'c', 'completed', '{}', 's', "
                 "'', '', '', 'n@x.org', '', 0, 'UTC', 'k', 1, :t)"),
            {"t": NOW},
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO campaign_parts (id, campaign_id, agent_id, weight, "
                 "idempotency_key, state, uploaded_through) VALUES (1, 7, 1, 1, 'k1', "
                 "'completed', 0)")
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO campaign_recipients (campaign_id, part_id, contact_id, email, "
                 "domain, status, deferrals, opened, clicked, complained, unsubscribed) VALUES "
                 "(7, 1, :c, 'USER0002@free.fr', 'free.fr', 'delivered', 0, true, false, false, "
                 "false)"),
            {"c": second},
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO suppressions (workspace_id, email, email_hash, reason, source, "
                 "created_at) VALUES (1, 'USER0002@free.fr', 'h', 'unsubscribed', '', :t)"),
            {"t": NOW},
        )  # fmt: skip

    migrate(old_engine)

    with old_engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                select(Contact.id, Contact.email, Contact.email_key, Contact.first_name,
                       Contact.status, Contact.fields)
            )
        }  # fmt: skip
        assert set(rows) == {first, other, idn}
        merged = rows[first]
        # The first spelling stays; the others' name, values and refusal are kept.
        assert (merged.email, merged.email_key) == ("user0002@free.fr", "user0002@free.fr")
        assert merged.first_name == "Zoé" and merged.status == "unsubscribed"
        assert merged.fields == {"city": "Paris", "plan": "gold"}
        assert rows[idn].email == "ann@exämple.com" and rows[idn].fields == {"x": 1}
        assert rows[idn].email_key == "ann@xn--exmple-cua.com"
        members = conn.execute(text("SELECT contact_id, list_id FROM list_members")).all()
        assert sorted(members) == sorted([(first, 1), (first, 2), (idn, 2)])
        history = conn.execute(text("SELECT contact_id FROM engagement_events")).scalars().all()
        assert history == [first]
        sent = conn.execute(text("SELECT contact_id, email, status FROM campaign_recipients")).all()
        assert [tuple(r) for r in sent] == [(first, "USER0002@free.fr", "delivered")]
        # The old entry of the other spelling still keeps the merged contact out of campaigns.
        assert conn.scalar(select(Suppression.email_key)) == "user0002@free.fr"
        assert suppression.load_lookup(conn, 1).reason("User0002@FREE.fr") is not None

    with pytest.raises(IntegrityError), old_engine.begin() as conn:
        conn.execute(insert(Contact).values(workspace_id=1, email="USER0002@FREE.FR"))


def test_the_key_is_case_insensitive_and_idna_encoded() -> None:
    assert mailbox_key("User0002@FREE.fr") == "user0002@free.fr"
    assert mailbox_key("Ann@Exämple.com") == mailbox_key("ann@xn--exmple-cua.com")
    assert mailbox_key("Émilie@exämple.com") == "émilie@xn--exmple-cua.com"
