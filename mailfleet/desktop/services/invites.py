"""One-time invites: a new teammate's agent keys, sealed in the team database for them alone.

The invite string carries a random secret; the database keeps only its SHA-256 and the keys
encrypted with it (AES-GCM, the invite's id as associated data). Neither is enough alone: the
string without the database holds no key, the database without the string cannot open them.
Redeeming it puts the keys in the redeeming computer's keyring and empties the sealed box, so
the string works once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, insert, select, update

from mailfleet.desktop.db.models import Invite, Person
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import audit_log, people, secrets
from mailfleet.desktop.services.people import PersonRecord

PREFIX = "mailfleet-invite:"
LIFETIME = timedelta(days=7)
_NONCE = 12


class InviteError(Exception):
    """The invite cannot be redeemed; the message says why in words."""


@dataclass(frozen=True)
class NewKey:
    """A key made on an agent for the invited person."""

    agent_id: int
    key_id: str
    secret: str


def create(conn: Connection, person_id: int, keys: list[NewKey]) -> str:
    """Keep ``keys`` sealed for ``person_id`` and return the invite string that opens them."""
    secret = os.urandom(32)
    now = utcnow()
    invite_id = conn.scalar(
        insert(Invite)
        .values(
            person_id=person_id,
            secret_hash=hashlib.sha256(secret).hexdigest(),
            created_at=now,
            expires_at=now + LIFETIME,
        )
        .returning(Invite.id)
    )
    assert invite_id is not None
    box = [{"agent_id": k.agent_id, "key_id": k.key_id, "secret": k.secret} for k in keys]
    nonce = os.urandom(_NONCE)
    sealed = nonce + AESGCM(secret).encrypt(nonce, json.dumps(box).encode(), _aad(invite_id))
    conn.execute(update(Invite).where(Invite.id == invite_id).values(sealed=sealed))
    token = base64.urlsafe_b64encode(secret).decode().rstrip("=")
    return f"{PREFIX}{invite_id}.{token}"


def _aad(invite_id: int) -> bytes:
    return f"mailfleet invite {invite_id}".encode()


def _parse(text: str) -> tuple[int, bytes]:
    body = text.strip()
    if not body.startswith(PREFIX):
        raise InviteError("That is not an invite: it starts with mailfleet-invite:.")
    number, _, token = body[len(PREFIX) :].partition(".")
    try:
        secret = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        invite_id = int(number)
    except ValueError:
        raise InviteError("That invite is damaged: copy it again, whole.") from None
    if len(secret) != 32:
        raise InviteError("That invite is damaged: copy it again, whole.")
    return invite_id, secret


def redeem(conn: Connection, workspace_id: int, text: str) -> PersonRecord:
    """Open the invite ``text``: its keys go into this computer's keyring as the invited
    person's, and the person has joined. Refused once used, expired, or of another workspace."""
    invite_id, secret = _parse(text)
    row = conn.execute(
        select(Invite.person_id, Invite.secret_hash, Invite.sealed, Invite.expires_at)
        .join(Person, Person.id == Invite.person_id)
        .where(Invite.id == invite_id, Person.workspace_id == workspace_id)
        .with_for_update()
    ).first()
    if row is None or hashlib.sha256(secret).hexdigest() != row.secret_hash:
        raise InviteError("That invite is not one of this workspace's.")
    if row.sealed is None:
        raise InviteError("That invite has been used already: ask for a new one.")
    if row.expires_at < utcnow():
        raise InviteError("That invite has expired: ask for a new one.")
    sealed = bytes(row.sealed)
    try:
        opened = AESGCM(secret).decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(invite_id))
    except InvalidTag:
        raise InviteError("That invite is not one of this workspace's.") from None
    stored: list[str] = []
    try:
        for key in json.loads(opened):
            ref = f"agent-{uuid.uuid4().hex}"
            secrets.store_key(ref, str(key["secret"]))
            stored.append(ref)
            people.keep_key(conn, row.person_id, int(key["agent_id"]), ref, str(key["key_id"]))
        conn.execute(
            update(Invite).where(Invite.id == invite_id).values(sealed=None, redeemed_at=utcnow())
        )
        people.mark_joined(conn, row.person_id)
    except Exception:
        for ref in stored:
            secrets.delete_key(ref)
        raise
    person = people.get_person(conn, workspace_id, row.person_id)
    assert person is not None
    audit_log.record(conn, workspace_id, "Joined the team", f"as {person.role}", person=person.name)
    return person
