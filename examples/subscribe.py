"""Sign an address up to a newsletter through one of the agent's signup forms.

    MAILFLEET_PAIRING='mailfleet://...' python examples/subscribe.py eva@shop.example \\
        --form FORM_ID --field first_name=Eva

The person gets the form's confirmation mail and is subscribed once they confirm (double
opt-in); ``--skip-confirmation`` subscribes at once, for an app that holds the consent itself.
Running it again with the same ``--key`` signs nobody up twice and sends no second mail: it
prints the signup as it is now (pending, subscribed once confirmed, or expired).
"""

from __future__ import annotations

import argparse
import os
import sys

from mailfleet.agent.client import AgentClient
from mailfleet.v1 import signups_pb2

_STATUS = {
    signups_pb2.SIGNUP_STATUS_PENDING: "pending: a confirmation mail was sent",
    signups_pb2.SIGNUP_STATUS_CONFIRMED: "subscribed",
    signups_pb2.SIGNUP_STATUS_EXPIRED: "expired: the confirmation link was not used in time",
}


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: write a field as name=value")
    return name, value


def main() -> int:
    """Subscribe the address; print the signup's id, lists and status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("email", help="the address to sign up")
    parser.add_argument("--form", required=True, help="the signup form's id")
    parser.add_argument(
        "--key", help="idempotency key, e.g. the order number (default: form and address)"
    )
    parser.add_argument(
        "--field", type=_field, action="append", default=[], help="a form field, name=value"
    )
    parser.add_argument(
        "--list", action="append", default=[], help="a list id to join (default: the form's)"
    )
    parser.add_argument("--skip-confirmation", action="store_true", help="no double opt-in")
    parser.add_argument("--ip", default="", help="where the person gave consent from")
    args = parser.parse_args()
    with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
        done = agent.subscribe(
            args.key or f"signup-{args.form}-{args.email.lower()}",
            args.form,
            args.email,
            fields=dict(args.field),
            lists=args.list,
            skip_confirmation=args.skip_confirmation,
            ip=args.ip,
            user_agent="examples/subscribe.py",
        )
    signup = done.signup
    made = "already made" if done.duplicate else "made"
    print(f"signup {signup.signup_id} of {signup.email} {made}, lists {', '.join(signup.lists)}")
    print(_STATUS.get(signup.status, "unknown"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
