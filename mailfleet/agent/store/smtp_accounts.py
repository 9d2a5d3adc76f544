"""SMTP intake logins and the tenants' sending domains."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from mailfleet.agent.errors import AlreadyExists, InvalidArgument, NotFound
from mailfleet.agent.store.tenants import get_tenant
from mailfleet.agent.validation import is_domain_name, normalize_domain


@dataclass(frozen=True)
class SmtpUser:
    """A stored SMTP login (never its password)."""

    id: int
    tenant_id: int
    username: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class Login:
    """What AUTH needs to check a password and scope the session."""

    user_id: int
    tenant_id: int
    username: str
    password_hash: str


_COLUMNS = "id, tenant_id, username, created_at, revoked_at"


def create_user(
    conn: sqlite3.Connection, tenant_id: int, username: str, password_hash: str
) -> SmtpUser:
    """Add a login for the tenant; the name must not belong to another active login."""
    get_tenant(conn, tenant_id)
    now = time.time()
    try:
        cur = conn.execute(
            "INSERT INTO smtp_users (tenant_id, username, password_hash, created_at)"
            " VALUES (?, ?, ?, ?)",
            (tenant_id, username, password_hash, now),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"an SMTP user named {username!r} exists") from None
    assert cur.lastrowid is not None
    return SmtpUser(cur.lastrowid, tenant_id, username, now, None)


def list_users(
    conn: sqlite3.Connection, tenant_id: int | None, *, revoked: bool = False
) -> list[SmtpUser]:
    """Logins of one tenant (or of all when None), oldest first; revoked ones on request."""
    where = ["1"]
    params: list[object] = []
    if tenant_id is not None:
        where.append("tenant_id = ?")
        params.append(tenant_id)
    if not revoked:
        where.append("revoked_at IS NULL")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM smtp_users WHERE {' AND '.join(where)} ORDER BY id", params
    ).fetchall()
    return [SmtpUser(*r) for r in rows]


def revoke_user(conn: sqlite3.Connection, tenant_id: int | None, username: str) -> SmtpUser:
    """Revoke the active login ``username`` (of ``tenant_id`` unless None); it stops at once."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM smtp_users WHERE username = ? AND revoked_at IS NULL"
        " AND (? IS NULL OR tenant_id = ?)",
        (username, tenant_id, tenant_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no active SMTP user {username!r}")
    now = time.time()
    conn.execute("UPDATE smtp_users SET revoked_at = ? WHERE id = ?", (now, row[0]))
    return SmtpUser(row[0], row[1], row[2], row[3], now)


def find_login(conn: sqlite3.Connection, username: str) -> Login | None:
    """The active login called ``username``, or None."""
    row = conn.execute(
        "SELECT id, tenant_id, username, password_hash FROM smtp_users"
        " WHERE username = ? AND revoked_at IS NULL",
        (username,),
    ).fetchone()
    return Login(*row) if row else None


def add_domain(conn: sqlite3.Connection, tenant_id: int, domain: str) -> None:
    """Let the tenant send as ``domain`` (idempotent; InvalidArgument if it is not a domain)."""
    get_tenant(conn, tenant_id)
    norm = normalize_domain(domain)
    if not is_domain_name(norm):
        raise InvalidArgument("domain", f"{domain!r} is not a domain name")
    conn.execute(
        "INSERT OR IGNORE INTO sending_domains (tenant_id, domain, created_at) VALUES (?, ?, ?)",
        (tenant_id, norm, time.time()),
    )


def remove_domain(conn: sqlite3.Connection, tenant_id: int, domain: str) -> None:
    """Stop the tenant sending as ``domain``."""
    cur = conn.execute(
        "DELETE FROM sending_domains WHERE tenant_id = ? AND domain = ?",
        (tenant_id, normalize_domain(domain)),
    )
    if cur.rowcount == 0:
        raise NotFound(f"{domain!r} is not a sending domain of tenant {tenant_id}")


def domains(conn: sqlite3.Connection, tenant_id: int) -> frozenset[str]:
    """The tenant's sending domains."""
    rows = conn.execute(
        "SELECT domain FROM sending_domains WHERE tenant_id = ? ORDER BY domain", (tenant_id,)
    )
    return frozenset(r[0] for r in rows)
