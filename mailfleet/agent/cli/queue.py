"""``mailfleet-agent queue``: the waiting mail of the agent running on this machine, over its
gRPC API with the kept admin key (Postfix's ``postqueue``/``postsuper``, KumoMTA's ``kcli``).

``list`` and ``summary`` show it; ``retry`` makes deferred mail due now (``postqueue -f``);
``delete`` and ``bounce`` end it (``postsuper -d``, ``kcli bounce``); ``suspend``, ``resume``
and ``suspensions`` hold back a recipient domain's or a route's mail (``kcli suspend``).
Everything acts on the admin's own tenant unless ``--tenant`` or ``--all-tenants`` says
otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from mailfleet.agent.cli import queue_tables
from mailfleet.agent.client import AgentClient, FingerprintMismatch, Pairing
from mailfleet.agent.config import AgentSettings
from mailfleet.agent.init import pairing_for
from mailfleet.agent.validation import split_host_port
from mailfleet.v1 import queue_pb2

COMMANDS = ("queue",)
_SELECTING = ("list", "summary", "retry", "delete", "bounce")
_KINDS = {"domain": queue_pb2.SUSPENSION_KIND_DOMAIN, "route": queue_pb2.SUSPENSION_KIND_ROUTE}
_DURATION = re.compile(r"(\d+)([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# The API's names for what was given, as the command line calls it.
_FLAGS = {
    "selection.domain": "--domain",
    "selection.route": "--route",
    "selection.message_ids": "ID",
    "selection.transactional_only": "--transactional",
    "reason": "--reason",
    "name": "the domain or route",
}


class QueueError(Exception):
    """Something to tell the operator in one line (exit code 1)."""


def duration(text: str) -> int:
    """Seconds of ``90``, ``90s``, ``15m``, ``2h`` or ``3d``."""
    m = _DURATION.fullmatch(text.strip().lower())
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 15m, 2h or 3d")
    return int(m.group(1)) * _SECONDS[m.group(2)]


def _scope(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--tenant", type=int, default=0, metavar="ID", help="another tenant's mail")
    who.add_argument("--all-tenants", action="store_true", help="every tenant's mail")


def _filters(p: argparse.ArgumentParser) -> None:
    _scope(p)
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="only these messages")
    p.add_argument("--domain", default="", help="only mail to this recipient domain")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--campaign", type=int, default=0, metavar="ID", help="only this campaign")
    which.add_argument("--transactional", action="store_true", help="only transactional mail")
    p.add_argument(
        "--older-than", type=duration, default=0, metavar="AGE", help="queued at least AGE ago"
    )
    p.add_argument("--route", default="", help="only mail last tried on (or held for) ROUTE")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``queue`` and its subcommands to ``mailfleet-agent``'s parser."""
    p_queue = sub.add_parser("queue", help="look at waiting mail and act on it")
    queue = p_queue.add_subparsers(dest="queue_command", required=True)
    p = queue.add_parser("list", help="waiting mail, one message a line (postqueue -p)")
    _filters(p)
    p.add_argument("--json", action="store_true", help="one JSON object a line, for scripts")
    p = queue.add_parser("summary", help="waiting mail counted by domain and by route")
    _filters(p)
    p.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    p = queue.add_parser("retry", help="try deferred mail now (postqueue -f)")
    _filters(p)
    for name, what in (("delete", "end it unsent (postsuper -d)"), ("bounce", "end it bounced")):
        p = queue.add_parser(name, help=f"{what}; give a filter or --all")
        _filters(p)
        p.add_argument("--all", action="store_true", help="every waiting message of the tenant")
        if name == "bounce":
            p.add_argument("--reason", required=True, help="why, one line (each event's reply)")
    for name, what in (("suspend", "hold back"), ("resume", "send again")):
        p = queue.add_parser(name, help=f"{what} a recipient domain's or a route's mail")
        _scope(p)
        p.add_argument("kind", choices=sorted(_KINDS), help="what NAME is")
        p.add_argument("name", metavar="NAME", help="the domain, or the route's name")
        if name == "suspend":
            p.add_argument("--reason", default="", help="why, one line")
            p.add_argument(
                "--for", dest="duration", type=duration, default=0, metavar="TIME",
                help="lift it by itself after TIME (e.g. 2h); default: when resumed",
            )  # fmt: skip
    p = queue.add_parser("suspensions", help="the domains and routes held back")
    _scope(p)
    p.add_argument("--json", action="store_true", help="one JSON object, for scripts")


def _selection(args: argparse.Namespace) -> queue_pb2.QueueSelection:
    return queue_pb2.QueueSelection(
        tenant_id=args.tenant,
        all_tenants=args.all_tenants,
        domain=args.domain,
        campaign_id=args.campaign,
        transactional_only=args.transactional,
        min_age_seconds=args.older_than,
        message_ids=args.ids,
        route=args.route,
    )


def _local_pairing(settings: AgentSettings) -> Pairing:
    """How to reach the agent of ``settings`` from this machine, with its admin key."""
    try:
        pairing = pairing_for(settings)
    except OSError as exc:
        raise QueueError(f"cannot read the agent's keys: {exc.strerror} ({exc.filename})") from None
    host, _port = split_host_port(settings.grpc.listen)
    if host in ("0.0.0.0", ""):  # noqa: S104 - listening everywhere: loopback answers too
        return replace(pairing, host="127.0.0.1")
    if host == "::":
        return replace(pairing, host="::1")
    return pairing


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def _print_json(message: Message) -> None:
    print(json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True)))


def _act(client: AgentClient, args: argparse.Namespace) -> None:
    command = args.queue_command
    if command in ("delete", "bounce"):
        sel = _selection(args)
        narrowed = sel.domain or sel.campaign_id or sel.transactional_only or sel.min_age_seconds
        if not (args.all or narrowed or sel.route or sel.message_ids):
            raise QueueError(f"say which mail to {command}: give a filter, message ids or --all")
    if command == "list":
        found = list(client.queued(_selection(args)))
        if args.json:
            for m in found:
                _print_json(m)
        else:
            print(queue_tables.messages(found))
    elif command == "summary":
        summary = client.queue_summary(_selection(args))
        if args.json:
            _print_json(summary)
        else:
            print(queue_tables.summary(summary))
    elif command == "retry":
        n = client.retry_queued(_selection(args))
        print(f"{_plural(n, 'deferred message')} due now")
    elif command == "delete":
        n = client.delete_queued(_selection(args))
        print(f"{_plural(n, 'message')} deleted")
    elif command == "bounce":
        n = client.bounce_queued(_selection(args), args.reason)
        print(f"{_plural(n, 'message')} bounced")
    elif command == "suspend":
        made = client.suspend(
            queue_pb2.SuspendRequest(
                kind=_KINDS[args.kind],
                name=args.name,
                reason=args.reason,
                duration_seconds=args.duration,
                tenant_id=args.tenant,
                all_tenants=args.all_tenants,
            )
        )
        print(f"suspended {queue_tables.suspension(made)}")
    elif command == "resume":
        gone = client.resume(
            queue_pb2.ResumeRequest(
                kind=_KINDS[args.kind],
                name=args.name,
                tenant_id=args.tenant,
                all_tenants=args.all_tenants,
            )
        )
        print(f"resumed {args.kind} {gone.name}: its mail goes out again")
    else:
        held = queue_pb2.ListSuspensionsResponse(
            suspensions=client.suspensions(args.tenant, all_tenants=args.all_tenants)
        )
        if args.json:
            _print_json(held)
        else:
            print(queue_tables.suspensions(held.suspensions))


def _said(exc: grpc.RpcError, where: str) -> str:
    """The agent's answer as one line for the operator."""
    code, details = exc.code(), exc.details() or ""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return f"the agent is not running (nothing answers on {where})"
    field, sep, problem = details.partition(": ")
    if code == grpc.StatusCode.INVALID_ARGUMENT and sep and field in _FLAGS:
        return f"{_FLAGS[field]}: {problem}"
    return details or f"the agent refused ({code.name.lower().replace('_', ' ')})"


def run(settings: AgentSettings, args: argparse.Namespace) -> int:
    """Run ``queue …``; return the exit code (1 with one line on stderr when it fails)."""
    where = settings.grpc.listen
    try:
        pairing = _local_pairing(settings)
        where = f"{pairing.host}:{pairing.port}"
        with AgentClient(pairing) as client:
            _act(client, args)
        return 0
    except QueueError as exc:
        problem = str(exc)
    except FingerprintMismatch:
        problem = f"another program answers on {where}, not this agent"
    except OSError:  # refused, or nothing there: no certificate to check
        problem = f"the agent is not running (nothing answers on {where})"
    except grpc.RpcError as exc:
        problem = _said(exc, where)
    print(f"mailfleet-agent queue {args.queue_command}: {problem}", file=sys.stderr)
    return 1
