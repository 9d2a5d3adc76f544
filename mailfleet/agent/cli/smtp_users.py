"""``mailfleet-agent smtp-user add|list|remove`` and ``sending-domain add|list|remove``.

They work on the store directly (a short transaction beside a running agent's writer), so they
also work while the agent is stopped; the intake reads logins and domains at each login.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.errors import AgentError, NotFound
from mailfleet.agent.identity import passwords, smtp_logins
from mailfleet.agent.init import DEFAULT_TENANT
from mailfleet.agent.store import smtp_accounts, tenants
from mailfleet.agent.store.db import write_once

COMMANDS = ("smtp-user", "sending-domain")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the two commands to ``mailfleet-agent``'s sub-command parser."""
    p_user = sub.add_parser("smtp-user", help="SMTP intake logins")
    user_sub = p_user.add_subparsers(dest="action", required=True)
    p_add = user_sub.add_parser("add", help="create a login and print its password once")
    p_add.add_argument("username")
    p_add.add_argument("--tenant", default=DEFAULT_TENANT)
    p_add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p_list = user_sub.add_parser("list", help="list logins")
    p_list.add_argument("--tenant", help="only this tenant's logins")
    p_list.add_argument("--revoked", action="store_true", help="include revoked logins")
    p_rm = user_sub.add_parser("remove", help="revoke a login at once")
    p_rm.add_argument("username")
    p_dom = sub.add_parser("sending-domain", help="domains a tenant's SMTP logins may send as")
    dom_sub = p_dom.add_subparsers(dest="action", required=True)
    for action in ("add", "remove"):
        p = dom_sub.add_parser(action)
        p.add_argument("domain")
        p.add_argument("--tenant", default=DEFAULT_TENANT)
    dom_sub.add_parser("list").add_argument("--tenant", default=DEFAULT_TENANT)
    for leaf in (p_add, p_list, p_rm, *dom_sub.choices.values()):
        leaf.add_argument("--config", type=Path, required=True)


def _tenant_id(conn: sqlite3.Connection, name: str) -> int:
    tenant = tenants.find_tenant(conn, name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}")
    return tenant.id


def _when(stamp: float | None) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M") if stamp else "-"


def run(settings: AgentSettings, args: argparse.Namespace) -> int:
    """Carry out one of the commands; return the exit code."""
    try:
        if args.command == "smtp-user":
            return _user(settings, args)
        return _domain(settings, args)
    except AgentError as exc:
        print(f"mailfleet-agent: {exc}", file=sys.stderr)
        return 1


def _user(settings: AgentSettings, args: argparse.Namespace) -> int:
    if args.action == "add":
        username = smtp_logins.check_username(args.username)
        if args.password_stdin:
            password = smtp_logins.check_password(sys.stdin.readline().rstrip("\r\n"))
        else:
            password = passwords.generate()
        hashed = passwords.hash_password(password)
        user = write_once(
            settings.db_path,
            lambda c: smtp_accounts.create_user(c, _tenant_id(c, args.tenant), username, hashed),
        )
        print(f"SMTP user {user.username!r} created for tenant {args.tenant!r}", file=sys.stderr)
        if not args.password_stdin:
            print("its password (shown only now):", file=sys.stderr)
            print(password)
        return 0
    if args.action == "list":
        rows = write_once(
            settings.db_path,
            lambda c: [
                (u, tenants.get_tenant(c, u.tenant_id).name)
                for u in smtp_accounts.list_users(
                    c, _tenant_id(c, args.tenant) if args.tenant else None, revoked=args.revoked
                )
            ],
        )
        print(f"{'USERNAME':<32} {'TENANT':<16} {'CREATED':<17} REVOKED")
        for user, tenant in rows:
            print(
                f"{user.username:<32} {tenant:<16} {_when(user.created_at):<17}"
                f" {_when(user.revoked_at)}"
            )
        return 0
    user = write_once(settings.db_path, lambda c: smtp_accounts.revoke_user(c, None, args.username))
    print(f"SMTP user {user.username!r} revoked", file=sys.stderr)
    return 0


def _domain(settings: AgentSettings, args: argparse.Namespace) -> int:
    def act(conn: sqlite3.Connection) -> frozenset[str]:
        tenant_id = _tenant_id(conn, args.tenant)
        if args.action == "add":
            smtp_accounts.add_domain(conn, tenant_id, args.domain)
        elif args.action == "remove":
            smtp_accounts.remove_domain(conn, tenant_id, args.domain)
        return smtp_accounts.domains(conn, tenant_id)

    for domain in sorted(write_once(settings.db_path, act)):
        print(domain)
    return 0
