"""Tenants and their API keys."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from mailfleet.agent.errors import AlreadyExists, NotFound
from mailfleet.agent.identity.keys import NewKey
from mailfleet.agent.identity.scopes import Scope


@dataclass(frozen=True)
class Tenant:
    """A tenant: the unit whose data never mixes with another's."""

    id: int
    name: str
    created_at: float


@dataclass(frozen=True)
class KeyRecord:
    """A stored API key (never the secret itself)."""

    key_id: str
    tenant_id: int
    name: str
    secret_hash: str
    scope: Scope
    created_at: float
    revoked_at: float | None
    # When the key stops working by itself; None: never.
    expires_at: float | None = None
    # Who the key was made for ('' when nobody was named).
    person: str = ""

    @property
    def admin(self) -> bool:
        """Whether the key may do everything, for every tenant."""
        return self.scope is Scope.ADMIN

    def expired(self, now: float) -> bool:
        """Whether the key's expiry has passed at ``now``."""
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True)
class KeySpec:
    """What a new key is for: its label, scope, expiry and person."""

    name: str
    scope: Scope
    expires_at: float | None = None
    person: str = ""


_KEY_COLUMNS = (
    "key_id, tenant_id, name, secret_hash, scope, created_at, revoked_at, expires_at, person"
)
_KeyRow = tuple[str, int, str, str, str, float, float | None, float | None, str]


def _key(row: _KeyRow) -> KeyRecord:
    return KeyRecord(row[0], row[1], row[2], row[3], Scope(row[4]), *row[5:])


def create_tenant(conn: sqlite3.Connection, name: str) -> Tenant:
    """Add a tenant; its name must be unused."""
    now = time.time()
    try:
        cur = conn.execute("INSERT INTO tenants (name, created_at) VALUES (?, ?)", (name, now))
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"a tenant named {name!r} exists") from None
    assert cur.lastrowid is not None
    return Tenant(cur.lastrowid, name, now)


def get_tenant(conn: sqlite3.Connection, tenant_id: int) -> Tenant:
    """One tenant by id."""
    row = conn.execute(
        "SELECT id, name, created_at FROM tenants WHERE id = ?", (tenant_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"tenant {tenant_id} does not exist")
    return Tenant(*row)


def find_tenant(conn: sqlite3.Connection, name: str) -> Tenant | None:
    """One tenant by name, or None."""
    row = conn.execute(
        "SELECT id, name, created_at FROM tenants WHERE name = ?", (name,)
    ).fetchone()
    return Tenant(*row) if row else None


def list_tenants(conn: sqlite3.Connection) -> list[Tenant]:
    """Every tenant, oldest first."""
    return [
        Tenant(*r) for r in conn.execute("SELECT id, name, created_at FROM tenants ORDER BY id")
    ]


def create_key(
    conn: sqlite3.Connection, tenant_id: int, spec: KeySpec, key: NewKey
) -> KeyRecord:
    """Store a new key's id and hash for a tenant."""
    get_tenant(conn, tenant_id)
    record = KeyRecord(
        key.key_id,
        tenant_id,
        spec.name,
        key.secret_hash,
        spec.scope,
        time.time(),
        None,
        spec.expires_at,
        spec.person,
    )
    conn.execute(
        f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.key_id,
            tenant_id,
            spec.name,
            key.secret_hash,
            spec.scope.value,
            record.created_at,
            None,
            spec.expires_at,
            spec.person,
        ),
    )
    return record


def find_key(conn: sqlite3.Connection, key_id: str) -> KeyRecord | None:
    """A key by its public id, revoked or not."""
    row = conn.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
    ).fetchone()
    return _key(row) if row else None


def list_keys(conn: sqlite3.Connection, tenant_id: int | None) -> list[KeyRecord]:
    """Keys of one tenant, or of all tenants when ``tenant_id`` is None."""
    if tenant_id is None:
        rows = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at")
    else:
        rows = conn.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at",
            (tenant_id,),
        )
    return [_key(r) for r in rows]


def revoke_key(conn: sqlite3.Connection, key_id: str) -> KeyRecord:
    """Mark a key revoked (idempotent); it stops working at once."""
    conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
        (time.time(), key_id),
    )
    record = find_key(conn, key_id)
    if record is None:
        raise NotFound(f"no API key {key_id!r}")
    return record
