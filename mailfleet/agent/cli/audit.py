"""``mailfleet-agent audit``: the audit log's newest entries, and the entries the command line
itself adds (its changes are audited as the API's are: who, what, when, from where)."""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.errors import AgentError, NotFound
from mailfleet.agent.store import audit, tenants
from mailfleet.agent.store.audit import AuditEntry
from mailfleet.agent.store.db import write_once

COMMANDS = ("audit",)
# How the log names the command line as a caller.
LOCAL_KEY_NAME = "command line"
LOCAL_PEER = "local"


def local_entry(conn: sqlite3.Connection, tenant_id: int, action: str, summary: str) -> None:
    """Enter a change the command line made, in the transaction that made it."""
    try:
        person = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        person = ""
    audit.append(
        conn,
        [
            AuditEntry(
                time.time(),
                tenant_id,
                "",
                LOCAL_KEY_NAME,
                person,
                LOCAL_PEER,
                action,
                summary,
                "ok",
            )
        ],
    )


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit`` to ``mailfleet-agent``'s sub-command parser."""
    p = sub.add_parser("audit", help="who changed what over the API and the command line")
    p.add_argument("--tenant", help="only the changes of this tenant's callers")
    p.add_argument("--limit", type=int, default=50, help="the newest N entries (default 50)")
    p.add_argument("--config", type=Path, required=True)


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _who(e: AuditEntry) -> str:
    label = f"{e.key_name} ({e.person})" if e.person else e.key_name
    return label if not e.key_id else f"{label} [{e.key_id}]"


def run(settings: AgentSettings, args: argparse.Namespace) -> int:
    """Print the newest entries, oldest of them first; return the exit code."""

    def read(conn: sqlite3.Connection) -> list[AuditEntry]:
        tenant_id = None
        if args.tenant:
            tenant = tenants.find_tenant(conn, args.tenant)
            if tenant is None:
                raise NotFound(f"no tenant named {args.tenant!r}")
            tenant_id = tenant.id
        return audit.newest(conn, tenant_id, max(1, args.limit))

    try:
        entries = write_once(settings.db_path, read)
    except AgentError as exc:
        print(f"mailfleet-agent: {exc}", file=sys.stderr)
        return 1
    print(f"{'TIME (UTC)':<19} {'WHO':<40} {'FROM':<15} {'ACTION':<20} {'OUTCOME':<8} SUMMARY")
    for e in entries:
        print(
            f"{_when(e.time):<19} {_who(e)[:40]:<40} {e.peer[:15]:<15} {e.action[:20]:<20}"
            f" {e.outcome[:8]:<8} {e.summary}"
        )
    if not entries:
        print("(no entries yet)")
    return 0
