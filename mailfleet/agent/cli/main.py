"""``mailfleet-agent``: init, serve, pairing, dkim generate, smtp-user, sending-domain, key,
audit, status, backup, restore, dns-check, queue."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mailfleet.agent import __version__, event_loop, logs
from mailfleet.agent.cli import audit as audit_cli
from mailfleet.agent.cli import dkim as dkim_cli
from mailfleet.agent.cli import keys as keys_cli
from mailfleet.agent.cli import ops as ops_cli
from mailfleet.agent.cli import queue as queue_cli
from mailfleet.agent.cli import smtp_users as intake_cli
from mailfleet.agent.cli.ownership import writer_check
from mailfleet.agent.config import AgentSettings, load
from mailfleet.agent.coordinator import serve
from mailfleet.agent.errors import ConfigError
from mailfleet.agent.feedback.webhooks import receiver as webhooks
from mailfleet.agent.init import init, pairing_for
from mailfleet.agent.routing.build import check_routes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailfleet-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mailfleet-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_init = sub.add_parser("init", help="create a data directory, keys and config")
    p_init.add_argument("--data-dir", type=Path, required=True)
    p_init.add_argument(
        "--grpc-listen",
        metavar="HOST:PORT",
        help="address of the gRPC API (default 127.0.0.1:8470)",
    )
    p_init.add_argument(
        "--http-listen",
        metavar="HOST:PORT",
        help="address of the HTTP endpoints (default 127.0.0.1:8480)",
    )
    p_init.add_argument(
        "--config", type=Path, help="where to write the config (default DATA_DIR/agent.toml)"
    )
    p_serve = sub.add_parser("serve", help="run the agent")
    p_serve.add_argument("--config", type=Path, required=True)
    p_pair = sub.add_parser("pairing", help="print the pairing string again")
    p_pair.add_argument("--config", type=Path, required=True)
    p_dkim = sub.add_parser("dkim", help="DKIM signing keys")
    dkim_sub = p_dkim.add_subparsers(dest="dkim_command", required=True)
    p_gen = dkim_sub.add_parser("generate", help="create a key and print its DNS TXT record")
    p_gen.add_argument("domain")
    p_gen.add_argument("--selector", required=True)
    p_gen.add_argument("--algorithm", choices=["rsa", "ed25519"], default="rsa")
    p_gen.add_argument("--config", type=Path, required=True)
    intake_cli.add_parsers(sub)
    keys_cli.add_parsers(sub)
    audit_cli.add_parsers(sub)
    ops_cli.add_parsers(sub)
    queue_cli.add_parsers(sub)
    return parser


def _written_by(command: str, settings: AgentSettings) -> tuple[Path, ...]:
    """What ``command`` may write under the data directory (nothing for other commands)."""
    if command == "dkim":
        return (settings.dkim_dir,)
    if command == "restore":
        return (settings.data_dir,)
    return ()


def _run_writing(
    args: argparse.Namespace, settings: AgentSettings, writes: tuple[Path, ...]
) -> int:
    """Run a command that writes agent files; when root ran it, the agent's user gets them."""
    owner = writer_check(settings.data_dir, args.command)
    if args.command == "dkim":
        code = dkim_cli.generate(settings, args.domain, args.selector, args.algorithm)
    else:
        code = ops_cli.run(settings, args)
    if owner is not None and (changed := owner.hand_back(*writes)):
        files = "file" if changed == 1 else "files"
        print(
            f"gave {changed} {files} to {owner.name}, the owner of {settings.data_dir},"
            " so the agent can read them",
            file=sys.stderr,
        )
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mailfleet-agent`` command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "init":
            result = init(args.data_dir, args.grpc_listen, args.http_listen, args.config)
            if not result.created:
                print(
                    f"already initialised: {result.config_path} (nothing overwritten)",
                    file=sys.stderr,
                )
            print(f"config:  {result.config_path}", file=sys.stderr)
            print(
                "pairing string (paste it into the desktop; it holds an admin key):",
                file=sys.stderr,
            )
            print(result.pairing)
            return 0
        settings = load(args.config)
        if args.command == "pairing":
            print(pairing_for(settings))
            return 0
        writes = _written_by(args.command, settings)
        if writes:
            return _run_writing(args, settings, writes)
        if args.command in intake_cli.COMMANDS:
            return intake_cli.run(settings, args)
        if args.command in keys_cli.COMMANDS:
            return keys_cli.run(settings, args)
        if args.command in audit_cli.COMMANDS:
            return audit_cli.run(settings, args)
        if args.command in ops_cli.COMMANDS:
            return ops_cli.run(settings, args)
        if args.command in queue_cli.COMMANDS:
            return queue_cli.run(settings, args)
        check_routes(settings)
        webhooks.check_secrets(settings)
        logs.configure(settings.log.level, settings.log.json_lines)
        event_loop.run(serve(settings, args.config))
        return 0
    except ConfigError as exc:
        print(f"mailfleet-agent: {exc}", file=sys.stderr)
        return 2
