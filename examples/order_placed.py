"""Tell the agent's automations that a shop order was placed, e.g. for a follow-up series.

    MAILFLEET_PAIRING='mailfleet://...' python examples/order_placed.py eva@shop.example \\
        --order 1042 --field total=59.90 --field first_name=Eva

The contact enters every active automation whose trigger is the event ``order_placed``; the
fields are its merge fields there ({{ order_id }}, {{ total }}). Sending the same order again
enrols nobody twice: the order number is the event's idempotency key.
"""

from __future__ import annotations

import argparse
import os
import sys

from mailfleet.agent.client import AgentClient


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write a field as name=value")
    return name, value


def main() -> int:
    """Send the event; print how many automations the contact entered."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("email", help="the customer's address")
    parser.add_argument("--order", required=True, help="the order number")
    parser.add_argument(
        "--field", type=_field, action="append", default=[], help="an order field, name=value"
    )
    args = parser.parse_args()
    fields = {"order_id": args.order, **dict(args.field)}
    with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
        done = agent.send_event(f"order-{args.order}", "order_placed", args.email, fields)
    entered = done.enrolled
    print(f"order {args.order}: {args.email} entered {entered} automation{'s' * (entered != 1)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
