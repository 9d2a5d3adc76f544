"""Ask where a person stands, change their fields or unsubscribe them (the Audience API).

    MAILFLEET_PAIRING='mailfleet://...' python examples/audience.py status eva@shop.example
    python examples/audience.py update eva@shop.example --field first_name=Eva --key crm-88
    python examples/audience.py unsubscribe eva@shop.example --list sale --key account-page-9

Every change goes into the agent's signup changes log, which the desktop follows: it updates
the contact, takes it off the list, or suppresses it as unsubscribed. The same ``--key`` again
changes nothing more and says so. Sign people up with ``examples/subscribe.py``.
"""

from __future__ import annotations

import argparse
import os
import sys

from mailfleet.agent.client import AgentClient
from mailfleet.v1 import audience_pb2

_STATUS = {
    audience_pb2.CONTACT_STATUS_UNKNOWN: "unknown to this agent",
    audience_pb2.CONTACT_STATUS_PENDING: "pending confirmation",
    audience_pb2.CONTACT_STATUS_CONFIRMED: "subscribed",
    audience_pb2.CONTACT_STATUS_UNSUBSCRIBED: "unsubscribed",
    audience_pb2.CONTACT_STATUS_SUPPRESSED: "suppressed (bounced, complained or blocked)",
}


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write a field as name=value")
    return name, value


def _show(contact: audience_pb2.Contact) -> None:
    print(f"{contact.email}: {_STATUS.get(contact.status, 'unknown')}")
    for label, lists in (
        ("lists", contact.lists),
        ("waiting for confirmation", contact.pending_lists),
        ("left", contact.left_lists),
    ):
        if lists:
            print(f"  {label}: {', '.join(lists)}")
    for name, value in sorted(contact.fields.items()):
        if value:
            print(f"  {name} = {value}")


def main() -> int:
    """Run one command; print the person as they stand afterwards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="where the address stands").add_argument("email")
    update = commands.add_parser("update", help="set some fields")
    update.add_argument("email")
    update.add_argument("--field", type=_field, action="append", required=True)
    leave = commands.add_parser("unsubscribe", help="leave one list, or everything")
    leave.add_argument("email")
    leave.add_argument("--list", default="", help="the list id (default: every campaign)")
    for sub in (update, leave):
        sub.add_argument("--key", required=True, help="idempotency key naming this change")
    args = parser.parse_args()
    with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
        if args.command == "status":
            _show(agent.contact(args.email))
            return 0
        done = (
            agent.update_contact(args.key, args.email, dict(args.field))
            if args.command == "update"
            else agent.unsubscribe(args.key, args.email, args.list)
        )
    if done.duplicate:
        print(f"already done with key {args.key}: nothing changed")
    _show(done.contact)
    return 0


if __name__ == "__main__":
    sys.exit(main())
