"""Run a campaign to the recipients of a CSV file and wait until it is finished.

    MAILFLEET_PAIRING='mailfleet://...' python examples/campaign_from_csv.py people.csv

The CSV needs an ``email`` column; every other column is a merge field the templates can
use (``{{ first_name }}``). Rows the agent refuses are listed with their reason.

It stops following once only deferred messages are left: the agent retries those by itself
for days (``--wait-deferred`` waits for them too). A restarting agent is waited for.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from mailfleet.agent.client import AgentClient
from mailfleet.v1 import campaigns_pb2


def main() -> int:
    """Create, fill, start and follow the campaign; print its final counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--name", default="Newsletter")
    parser.add_argument("--from-address", default="news@shop.example")
    parser.add_argument("--per-minute", type=int, default=0, help="throttle; 0: none")
    parser.add_argument(
        "--wait-deferred", action="store_true", help="wait until deferred messages are done too"
    )
    args = parser.parse_args()
    with args.csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with AgentClient.connect(os.environ["MAILFLEET_PAIRING"]) as agent:
        campaign = agent.create_campaign(
            f"{args.name}:{args.csv.name}",  # the same file twice is the same campaign
            args.name,
            args.from_address,
            subject="Hello {{ first_name }}",
            text="Hi {{ first_name }}, here is our news.",
            html="<p>Hi {{ first_name }}, here is our news.</p>",
            throttle_per_minute=args.per_minute,
        )
        upload = agent.upload_recipients(campaign.id, rows)
        print(f"campaign {campaign.id}: {upload.accepted} of {upload.received} recipients")
        for position, email, why in upload.rejected:
            print(f"  row {position + 1} <{email}> refused: {why}")
        state = agent.start_campaign(campaign.id)
        for state in agent.follow_campaign(campaign.id, _waiting):
            c = state.counts
            print(
                f"  {c.total - c.queued - c.in_flight - c.deferred} of {c.total} done", flush=True
            )
            if c.deferred and not (c.queued or c.in_flight) and not args.wait_deferred:
                print(
                    f"{c.delivered} delivered, {c.bounced} bounced, {c.failed} failed;"
                    f" {c.deferred} deferred, which the agent keeps retrying"
                    " (follow them with follow_events.py)"
                )
                return 0
    name = campaigns_pb2.CampaignState.Name(state.state).removeprefix("CAMPAIGN_STATE_")
    c = state.counts
    print(f"{name.lower()}: {c.delivered} delivered, {c.bounced} bounced, {c.failed} failed")
    return 0


def _waiting(why: str, seconds: float) -> None:
    print(f"campaign_from_csv: {why}; trying again in {seconds:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
