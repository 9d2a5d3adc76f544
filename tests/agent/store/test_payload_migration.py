"""Schema 5: a store written by the previous schema is upgraded and its queue delivered.

The previous agents stored each recipient as base64 of a serialised ``mailfleet.v1.Recipient``
in a TEXT column; the rows here are made the way that code made them, in a store migrated only
up to version 4.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailfleet.agent.config import load
from mailfleet.agent.model import payload
from mailfleet.agent.store.db import connect
from mailfleet.agent.store.schema import MIGRATIONS, current_version, migrate
from mailfleet.v1 import common_pb2, messages_pb2
from tests.agent.builders import relay_config, transactional, wait_until
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink

PREVIOUS = MIGRATIONS[:4]
NOW = time.time()
# Message states and lanes as the previous schema numbered them.
QUEUED, IN_FLIGHT, DELIVERED = 1, 2, 3
TRANSACTIONAL, BULK = 1, 2
SENDER = {"from_address": "news@shop.example", "from_name": "", "reply_to": ""}
TRACKING = {"opens": False, "clicks": False}
UNREADABLE = "!! not base64 !!"


def old_payload(name: str = "", values: tuple[str, ...] = (), **fields: str) -> str:
    """A payload as the previous agents wrote it (the email was in the wire bytes too)."""
    recipient = common_pb2.Recipient(email="ignored@example.com", name=name, values=values)
    recipient.fields.update(fields)
    return base64.b64encode(recipient.SerializeToString()).decode("ascii")


def previous_store(path: Path) -> sqlite3.Connection:
    conn = connect(path)
    assert migrate(conn, PREVIOUS) == 4
    return conn


def add_campaign(
    conn: sqlite3.Connection, tenant_id: int, field_names: list[str]
) -> tuple[int, int]:
    """A running campaign and its upload's field names; returns both ids."""
    spec = {
        "name": "spring",
        "sender": SENDER,
        "content": {
            "subject": "Hello {{ first }}",
            "html": "",
            "text": "Dear {{ name }} in {{ city }}, plan {{ plan }}.",
            "headers": {},
        },
        "idempotency_key": "spring",
        "tags": [],
        "throttle_per_minute": 0,
        "start_at": None,
        "tracking": TRACKING,
    }
    campaign = conn.execute(
        "INSERT INTO campaigns (tenant_id, idempotency_key, name, state, spec,"
        " throttle_per_minute, created_at, updated_at) VALUES (?, 'spring', 'spring', 3, ?, 0,"
        " ?, ?)",
        (tenant_id, json.dumps(spec), NOW, NOW),
    ).lastrowid
    field_set = conn.execute(
        "INSERT INTO field_sets (names) VALUES (?)", (json.dumps(field_names),)
    ).lastrowid
    assert campaign is not None and field_set is not None
    return campaign, field_set


def add_message(
    conn: sqlite3.Connection,
    tenant_id: int,
    address: str,
    old: str | None,
    *,
    campaign: tuple[int, int] | None = None,
    content_id: int | None = None,
    state: int = QUEUED,
) -> int:
    campaign_id, field_set_id = campaign or (None, None)
    cur = conn.execute(
        "INSERT INTO messages (tenant_id, campaign_id, content_id, lane, state, email,"
        " email_norm, field_set_id, payload, lease_until, idempotency_key, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant_id,
            campaign_id,
            content_id,
            BULK if campaign else TRANSACTIONAL,
            state,
            address,
            address,
            field_set_id,
            old,
            NOW - 1 if state == IN_FLIGHT else None,
            None if campaign else address,
            NOW,
            NOW,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def add_transactional_content(conn: sqlite3.Connection) -> int:
    spec = {
        "sender": SENDER,
        "content": {
            "subject": "Order {{ order }}",
            "html": "",
            "text": "Thanks {{ name }}",
            "headers": {},
        },
        "tags": [],
        "tracking": TRACKING,
    }
    content = conn.execute(
        "INSERT INTO contents (spec, raw_mime) VALUES (?, NULL)", (json.dumps(spec),)
    ).lastrowid
    assert content is not None
    return content


def test_the_migration_turns_old_payloads_into_codec_blobs(tmp_path: Path) -> None:
    with closing(previous_store(tmp_path / "agent.db")) as conn:
        conn.execute("INSERT INTO tenants (id, name, created_at) VALUES (1, 'default', 0)")
        content = add_transactional_content(conn)
        rows = {
            "plain": old_payload(values=("Ada", "Paris")),
            "named": old_payload("Zoë Ångström 😀", ("Zoë",), plan="gold 🥇", note=""),
            "empty": old_payload(),
            "unreadable": UNREADABLE,
        }
        ids = {
            k: add_message(conn, 1, f"{k}@x.test", v, content_id=content) for k, v in rows.items()
        }
        pruned = add_message(conn, 1, "pruned@x.test", None, content_id=content, state=DELIVERED)

        assert migrate(conn) == current_version(conn) == len(MIGRATIONS) > 4
        columns = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(messages)")}
        assert columns["payload"] == "BLOB" and "payload_v4" not in columns
        stored = dict(conn.execute("SELECT id, payload FROM messages").fetchall())

    assert payload.decode(stored[ids["plain"]]) == payload.Payload("", ["Ada", "Paris"], {})
    named = payload.decode(stored[ids["named"]])
    assert named.name == "Zoë Ångström 😀" and named.values == ["Zoë"]
    assert dict(named.fields) == {"plan": "gold 🥇", "note": ""}
    assert payload.decode(stored[ids["empty"]]) == payload.Payload("", [], {})
    # Kept as it was: the worker fails that message alone, saying why.
    assert stored[ids["unreadable"]] == UNREADABLE.encode()
    with pytest.raises(payload.PayloadError):
        payload.decode(stored[ids["unreadable"]])
    assert stored[pruned] is None


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def downgraded(agent: AgentProcess) -> tuple[sqlite3.Connection, int]:
    """Replace the agent's fresh store by one at the previous version with the same tenant and
    keys; return it and the tenant's id."""
    db = load(agent.config).db_path
    # api_keys as the previous schema had it: an admin flag where scopes are now (schema 15)
    kept = {
        "agent_meta": "*",
        "tenants": "*",
        "api_keys": "key_id, tenant_id, name, secret_hash, scope = 'admin', created_at,"
        " revoked_at",
    }
    with closing(sqlite3.connect(db)) as fresh:
        rows = {
            table: fresh.execute(f"SELECT {columns} FROM {table}").fetchall()
            for table, columns in kept.items()
        }
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = previous_store(db)
    for table, found in rows.items():
        if found:
            marks = ", ".join("?" * len(found[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", found)
    db.chmod(0o600)
    return conn, rows["tenants"][0][0]


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_an_agent_upgrades_a_previous_store_and_delivers_its_queue(
    tmp_path: Path, sink: SmtpSink
) -> None:
    agent = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
    try:
        conn, tenant = downgraded(agent)
        with closing(conn):
            campaign = add_campaign(conn, tenant, ["first", "city"])
            add_message(
                conn,
                tenant,
                "ada@example.com",
                old_payload("", ("Ada", "Paris"), plan="basic"),
                campaign=campaign,
            )
            add_message(
                conn,
                tenant,
                "zoe@example.com",
                old_payload("Zoë Ångström", ("Zoë", "Zürich"), plan="gold 🥇"),
                campaign=campaign,
            )
            # Leased when the previous agent stopped: back in the queue at start-up.
            add_message(
                conn,
                tenant,
                "lee@example.com",
                old_payload("", ("Lee", "Oslo", "extra value"), plan="trial"),
                campaign=campaign,
                state=IN_FLIGHT,
            )
            content = add_transactional_content(conn)
            add_message(
                conn,
                tenant,
                "bob@example.com",
                old_payload("Bob", order="1001"),
                content_id=content,
            )
            broken = add_message(conn, tenant, "broken@example.com", UNREADABLE, content_id=content)
        agent.start()
        stubs = agent.stubs()

        got = {r.rcpt_to[0]: parsed(r.data) for r in sink.wait_for(4, timeout=60)}
        assert got["ada@example.com"]["Subject"] == "Hello Ada"
        assert "Dear  in Paris, plan basic." in got["ada@example.com"].get_content()
        zoe = got["zoe@example.com"]
        assert zoe["Subject"] == "Hello Zoë"
        assert zoe["To"].addresses[0].display_name == "Zoë Ångström"
        assert "Dear Zoë Ångström in Zürich, plan gold 🥇." in zoe.get_content()
        assert "Dear  in Oslo, plan trial." in got["lee@example.com"].get_content()
        assert got["bob@example.com"]["Subject"] == "Order 1001"
        assert got["bob@example.com"]["To"].addresses[0].display_name == "Bob"
        assert "Thanks Bob" in got["bob@example.com"].get_content()

        request = messages_pb2.GetMessageRequest(message_id=broken)
        wait_until(
            lambda: stubs.messages.GetMessage(request).state == messages_pb2.MESSAGE_STATE_FAILED,
            30,
            "the unreadable message to fail",
        )
        assert stubs.messages.GetMessage(request).last_reply == (
            "the stored recipient data is unreadable"
        )
        # The worker that met it goes on: a message queued after the upgrade is delivered too.
        stubs.transactional.SendMessage(transactional("after", "after@example.com"))
        after = parsed(sink.wait_for(5, timeout=30)[-1].data)
        assert after["Subject"] == "Order 1234" and after["To"].addresses[0].display_name == "Buyer"
        assert sink.count == 5 and sink.duplicates() == []
    finally:
        agent.close()
