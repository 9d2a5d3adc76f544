"""Schema version 5: recipient payloads move from the gRPC contract to our own codec.

Agents before it stored each message's recipient as a serialised ``mailfleet.v1.Recipient``,
base64 in a TEXT column; from version 5 the column is a BLOB holding
:mod:`mailfleet.agent.model.payload` bytes. Reading the old rows needs the generated protobuf class,
which is why this one migration is Python rather than SQL.
"""

from __future__ import annotations

import base64
import logging
import sqlite3

from google.protobuf.message import DecodeError

from mailfleet.agent.model import payload
from mailfleet.v1 import common_pb2

_CONVERT = "mailfleet_payload_v5"

log = logging.getLogger("mailfleet.agent.store")


def _converted(old: str | bytes) -> bytes:
    try:
        recipient = common_pb2.Recipient.FromString(base64.b64decode(old, validate=True))
    except (ValueError, DecodeError):  # binascii.Error is a ValueError
        # Not what an old agent wrote: kept as it was, so that the worker fails this one
        # message as unreadable instead of the upgrade failing for every message.
        return old.encode("utf-8", "surrogateescape") if isinstance(old, str) else old
    return payload.encode(recipient.name, recipient.values, recipient.fields)


def payloads_to_blobs(conn: sqlite3.Connection) -> None:
    """Convert every stored payload, inside the migration's transaction."""
    (count,) = conn.execute("SELECT count(*) FROM messages WHERE payload IS NOT NULL").fetchone()
    if count:
        # A large store takes a while (about 6 s a million messages): say why start-up waits.
        log.info("store upgrade: converting the recipient data of %d messages", count)
    conn.create_function(_CONVERT, 1, _converted, deterministic=True)
    try:
        conn.execute("ALTER TABLE messages RENAME COLUMN payload TO payload_v4")
        conn.execute("ALTER TABLE messages ADD COLUMN payload BLOB")
        conn.execute(
            f"UPDATE messages SET payload = {_CONVERT}(payload_v4) WHERE payload_v4 IS NOT NULL"
        )
        conn.execute("ALTER TABLE messages DROP COLUMN payload_v4")
    finally:
        conn.create_function(_CONVERT, 1, None)
