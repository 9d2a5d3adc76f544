"""Send one transactional message (a receipt) through an agent.

    MAILFLEET_PAIRING='mailfleet://...' python examples/send_transactional.py buyer@example.com

Running it again with the same order number sends nothing new: the idempotency key makes the
call safe to retry after a timeout.
"""

from __future__ import annotations

import argparse
import os
import sys

from mailfleet.agent.client import AgentClient


def main() -> int:
    """Send the receipt; print the message id."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("to", help="the recipient's address")
    parser.add_argument("--order", default="1042", help="order number (the idempotency key)")
    parser.add_argument("--from-address", default="orders@shop.example")
    args = parser.parse_args()
    with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
        sent = agent.send_message(
            f"receipt-{args.order}",
            args.to,
            args.from_address,
            from_name="Shop",
            subject="Your order {{ order }}",
            text="Thanks for order {{ order }}. We will write again when it ships.",
            html="<p>Thanks for order <b>{{ order }}</b>.</p>",
            fields={"order": args.order},
            tags=["receipt"],
        )
    kind = "already queued" if sent.duplicate else "queued"
    print(f"message {sent.message_id} {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
