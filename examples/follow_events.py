"""Print an agent's events as they happen, resuming where the last run stopped.

    MAILFLEET_PAIRING='mailfleet://...' python examples/follow_events.py --cursor events.seq

The last handled ``seq`` is kept in the cursor file, so a restart misses nothing and repeats
nothing. ``--once`` prints what is there and exits instead of waiting for more.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from agent.client import AgentClient
from mailfleet.v1 import events_pb2


def main() -> int:
    """Follow the events; one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cursor", type=Path, default=Path("events.seq"))
    parser.add_argument("--once", action="store_true", help="exit when caught up")
    args = parser.parse_args()
    after = int(args.cursor.read_text()) if args.cursor.exists() else 0
    with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
        for event in agent.events(after, follow=not args.once):
            kind = events_pb2.EventType.Name(event.type).removeprefix("EVENT_TYPE_").lower()
            print(f"{event.seq} {kind} {event.email}".rstrip(), flush=True)
            args.cursor.write_text(str(event.seq))
    return 0


if __name__ == "__main__":
    sys.exit(main())
