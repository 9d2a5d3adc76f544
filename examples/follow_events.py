"""Print an agent's events as they happen, resuming where the last run stopped.

    MAILFLEET_PAIRING='mailfleet://...' python examples/follow_events.py --cursor events.seq

The last handled ``seq`` is kept in the cursor file, so a restart misses nothing and repeats
nothing. While the agent is away (a restart, an upgrade) it waits and reconnects with back-off,
saying so on stderr. ``--once`` prints what is there and exits instead of waiting for more.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc

from mailfleet.agent.client import AgentClient
from mailfleet.v1 import events_pb2


def main() -> int:
    """Follow the events; one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cursor", type=Path, default=Path("events.seq"))
    parser.add_argument("--once", action="store_true", help="exit when caught up")
    args = parser.parse_args()
    after = int(args.cursor.read_text()) if args.cursor.exists() else 0
    with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
        events = agent.events(after) if args.once else agent.follow_events(after, _waiting)
        try:
            for event in events:
                kind = events_pb2.EventType.Name(event.type).removeprefix("EVENT_TYPE_").lower()
                print(f"{event.seq} {kind} {event.email}".rstrip(), flush=True)
                args.cursor.write_text(str(event.seq))
        except grpc.RpcError as exc:
            print(f"follow_events: {exc.code().name.lower()}: {exc.details()}", file=sys.stderr)
            return 1
    return 0


def _waiting(why: str, seconds: float) -> None:
    print(f"follow_events: {why}; trying again in {seconds:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
