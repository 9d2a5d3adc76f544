"""The operator's subcommands of ``mailfleet-agent``: status, backup, restore, dns-check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.dkim import dns_checks
from mailfleet.agent.dkim.keys import DkimKeyError
from mailfleet.agent.ops import backup, dnscheck, status
from mailfleet.agent.routes.smtp.identity import blocking_resolver

COMMANDS = ("status", "backup", "restore", "dns-check")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands to ``mailfleet-agent``'s parser."""
    p = sub.add_parser("status", help="queue, rates, workers and listeners")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    p = sub.add_parser("backup", help="copy the store (online) and the keys into FILE")
    p.add_argument("file", type=Path, metavar="FILE", help="the archive to write (.tar.gz)")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p = sub.add_parser("restore", help="put a backup's store and keys back (agent stopped)")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--force", action="store_true", help="replace the existing store")
    p = sub.add_parser("dns-check", help="check SPF, DKIM, DMARC, PTR and MTA-STS of DOMAIN")
    p.add_argument("domain", metavar="DOMAIN")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument(
        "--ip",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a sending address (repeatable; default: the mx routes' source_address)",
    )
    p.add_argument(
        "--nameserver",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="ask this DNS server instead of the system's (repeatable)",
    )


def run(settings: AgentSettings, args: argparse.Namespace) -> int:
    """Run one of :data:`COMMANDS`; return the exit code."""
    try:
        if args.command == "status":
            found = status.collect(settings)
            print(status.to_json(found) if args.json else status.render(found))
            return 0
        if args.command == "backup":
            done = backup.backup(settings, args.file, overwrite=args.force)
            print(
                f"backed up {done.messages:,} messages, {done.events:,} events and "
                f"{done.files - 1} key files (schema {done.schema_version}) to {done.path}"
            )
            return 0
        if args.command == "restore":
            done = backup.restore(settings, args.file, overwrite=args.force)
            print(
                f"restored {done.messages:,} messages and {done.events:,} events from "
                f"{done.path} into {settings.data_dir}; start the agent again"
            )
            return 0
        plan = dnscheck.plan_for(settings, args.domain, args.ip)
        findings = dns_checks.run(dns_checks.Lookup(blocking_resolver(args.nameserver)), plan)
        print(dns_checks.report(findings))
        if not plan.addresses:
            print("\nno sending address known: pass --ip to check SPF and PTR for it")
        bad = (dns_checks.Status.MISSING, dns_checks.Status.WRONG)
        return 1 if any(f.status in bad for f in findings) else 0
    except (backup.BackupError, DkimKeyError, ValueError) as exc:
        print(f"mailfleet-agent {args.command}: {exc}", file=sys.stderr)
        return 1
