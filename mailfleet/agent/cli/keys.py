"""``mailfleet-agent key create|list|revoke``: the agent's API keys and their scopes.

Like ``smtp-user`` they work on the store directly (a short transaction beside a running agent's
writer), so they also work while the agent is stopped. A running agent sees a new key at its
first use and a revoked one within ``RECHECK_SECONDS`` (it re-reads the keys it has cached).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mailfleet.agent.api.auth import RECHECK_SECONDS
from mailfleet.agent.cli.audit import local_entry
from mailfleet.agent.cli.queue import duration
from mailfleet.agent.config import AgentSettings
from mailfleet.agent.errors import AgentError, FailedPrecondition, NotFound
from mailfleet.agent.identity import keys, scopes
from mailfleet.agent.init import DEFAULT_TENANT
from mailfleet.agent.store import tenants
from mailfleet.agent.store.db import write_once
from mailfleet.agent.store.tenants import KeyRecord, KeySpec
from mailfleet.agent.validation import text_line

COMMANDS = ("key",)


def _scope(text: str) -> scopes.Scope:
    try:
        return scopes.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _expiry(text: str) -> float:
    """A Unix time from ``30d``-style durations from now, or a UTC date (and time)."""
    try:
        return time.time() + duration(text)
    except argparse.ArgumentTypeError:
        pass
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration such as 30d or 12h nor a date such as 2027-01-31"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``key`` to ``mailfleet-agent``'s sub-command parser."""
    p_key = sub.add_parser("key", help="API keys: create, list, revoke")
    key_sub = p_key.add_subparsers(dest="action", required=True)
    p_create = key_sub.add_parser("create", help="make a key and print its secret once")
    p_create.add_argument("--name", required=True, help="what the key is for, e.g. 'shop app'")
    p_create.add_argument(
        "--scope",
        type=_scope,
        required=True,
        help="admin, tenant, campaigns, send, read or audience (docs/operations.md)",
    )
    p_create.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant name (default: default)")
    p_create.add_argument(
        "--expires", type=_expiry, metavar="WHEN", help="30d, 12h, or a UTC date: 2027-01-31"
    )
    p_create.add_argument("--person", default="", help="who the key is for (audit log)")
    p_list = key_sub.add_parser("list", help="list keys (never their secrets)")
    p_list.add_argument("--tenant", help="only this tenant's keys")
    p_list.add_argument("--revoked", action="store_true", help="include revoked keys")
    p_revoke = key_sub.add_parser("revoke", help="stop a key working")
    p_revoke.add_argument("key_id", metavar="KEY_ID", help="the id `key list` shows")
    for leaf in (p_create, p_list, p_revoke):
        leaf.add_argument("--config", type=Path, required=True)


def run(settings: AgentSettings, args: argparse.Namespace) -> int:
    """Carry out one ``key`` command; return the exit code."""
    try:
        if args.action == "create":
            return _create(settings, args)
        if args.action == "list":
            return _list(settings, args)
        return _revoke(settings, args)
    except AgentError as exc:
        print(f"mailfleet-agent: {exc}", file=sys.stderr)
        return 1


def _tenant_id(conn: sqlite3.Connection, name: str) -> int:
    tenant = tenants.find_tenant(conn, name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}")
    return tenant.id


def _when(stamp: float | None) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M") if stamp else "-"


def _create(settings: AgentSettings, args: argparse.Namespace) -> int:
    if args.expires is not None and args.expires <= time.time():
        raise FailedPrecondition("that expiry is already past")
    spec = KeySpec(
        text_line("--name", args.name, required=True),
        args.scope,
        args.expires,
        text_line("--person", args.person),
    )
    new = keys.mint()

    def create(conn: sqlite3.Connection) -> KeyRecord:
        record = tenants.create_key(conn, _tenant_id(conn, args.tenant), spec, new)
        summary = f"key_id={record.key_id}, name={record.name!r}, scope={record.scope}"
        local_entry(conn, record.tenant_id, "key create", summary)
        return record

    record = write_once(settings.db_path, create)
    until = f", until {_when(record.expires_at)} UTC" if record.expires_at else ""
    print(
        f"key {record.key_id} ({record.name!r}, {record.scope} scope) created for tenant"
        f" {args.tenant!r}{until}",
        file=sys.stderr,
    )
    print("the key (shown only now; send it as 'authorization: Bearer <key>'):", file=sys.stderr)
    print(new.full_key)
    return 0


def _state(key: KeyRecord, now: float) -> str:
    if key.revoked_at is not None:
        return f"revoked {_when(key.revoked_at)}"
    return "expired" if key.expired(now) else "active"


def _list(settings: AgentSettings, args: argparse.Namespace) -> int:
    def read(conn: sqlite3.Connection) -> list[tuple[KeyRecord, str]]:
        tenant_id = _tenant_id(conn, args.tenant) if args.tenant else None
        names = {t.id: t.name for t in tenants.list_tenants(conn)}
        found = tenants.list_keys(conn, tenant_id)
        return [(k, names.get(k.tenant_id, "?")) for k in found]

    rows = write_once(settings.db_path, read)
    now = time.time()
    shown = [(k, t) for k, t in rows if args.revoked or k.revoked_at is None]
    print(
        f"{'KEY ID':<16} {'NAME':<24} {'TENANT':<12} {'SCOPE':<9} {'PERSON':<16}"
        f" {'CREATED':<16} {'EXPIRES':<16} STATE"
    )
    for key, tenant in shown:
        print(
            f"{key.key_id:<16} {key.name[:24]:<24} {tenant[:12]:<12} {key.scope:<9}"
            f" {key.person[:16]:<16} {_when(key.created_at):<16} {_when(key.expires_at):<16}"
            f" {_state(key, now)}"
        )
    hidden = len(rows) - len(shown)
    if hidden:
        print(f"({hidden} revoked {'key' if hidden == 1 else 'keys'} not shown: --revoked)")
    return 0


def _kept_key_id(settings: AgentSettings) -> str | None:
    """The id of the admin key kept in the data directory (pairing, queue), if any."""
    try:
        parts = keys.split(settings.admin_key_file.read_text(encoding="utf-8").strip())
    except OSError:
        return None
    return parts[0] if parts else None


def _revoke(settings: AgentSettings, args: argparse.Namespace) -> int:
    if args.key_id == _kept_key_id(settings):
        raise FailedPrecondition(
            "that is the admin key kept for `pairing` and `queue`; it cannot be revoked here"
        )

    def revoke(conn: sqlite3.Connection) -> KeyRecord:
        record = tenants.revoke_key(conn, args.key_id)
        summary = f"key_id={record.key_id}, name={record.name!r}"
        local_entry(conn, record.tenant_id, "key revoke", summary)
        return record

    record = write_once(settings.db_path, revoke)
    print(
        f"key {record.key_id} ({record.name!r}) revoked; a running agent refuses it within"
        f" {RECHECK_SECONDS:g} seconds",
        file=sys.stderr,
    )
    return 0
