"""``make demo``: a fresh agent in a temporary directory, driven end to end over gRPC.

Creates a 10,000-recipient campaign with merge fields (a few rows are deliberately bad),
uploads it, starts, pauses and resumes it, sends a transactional message, follows the events
log and prints the tally. Nothing leaves the machine: a fresh agent has no outbound route.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from agent import client
from agent.localagent import LocalAgent, free_port
from mailfleet.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    campaigns_pb2,
    campaigns_pb2_grpc,
    common_pb2,
    events_pb2,
    events_pb2_grpc,
    transactional_pb2,
    transactional_pb2_grpc,
)

RECIPIENTS = 10_000
BAD_ROWS = ["not-an-address", "user7@example.com", "evil@example.com\r\nBcc: x@example.com"]


def _batches(campaign_id: int) -> Iterator[campaigns_pb2.RecipientBatch]:
    rows = [
        common_pb2.Recipient(email=f"user{i}@example.com", values=[f"Ada{i}", "Paris", "gold"])
        for i in range(RECIPIENTS)
    ]
    rows += [common_pb2.Recipient(email=e) for e in BAD_ROWS]
    for start in range(0, len(rows), 2000):
        batch = campaigns_pb2.RecipientBatch(
            campaign_id=campaign_id, recipients=rows[start : start + 2000]
        )
        if start == 0:
            batch.field_names.extend(["first_name", "city", "plan"])
        yield batch


def run(workdir: Path) -> int:
    """Run the demo against a new agent in ``workdir``; return the exit code."""
    agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}")
    agent.start(workdir / "agent.log")
    try:
        with client.channel(agent.pairing) as ch:
            info = agent_pb2_grpc.AgentInfoStub(ch).GetInfo(agent_pb2.GetInfoRequest())
            print(f"agent {info.agent_id[:8]} v{info.version} up; tenant {info.tenant_name!r}")
            campaigns = campaigns_pb2_grpc.CampaignsStub(ch)
            c = campaigns.CreateCampaign(
                campaigns_pb2.CreateCampaignRequest(
                    name="Demo: autumn sale",
                    idempotency_key="demo-autumn",
                    sender=common_pb2.Sender(
                        from_name="Démo Shop", from_address="news@shop.example"
                    ),
                    content=common_pb2.Content(
                        subject="{{ first_name }}, autumn prices in {{ city }}",
                        html="<p>Hello {{ first_name }}, your {{ plan }} plan …</p>",
                    ),
                    throttle_per_minute=60_000,
                )
            )
            summary = campaigns.UploadRecipients(_batches(c.id))
            print(
                f"uploaded: {summary.received} rows = {summary.accepted} accepted "
                f"+ {summary.rejected} rejected"
            )
            for r in summary.rejections:
                print(f"  row {r.index}: {common_pb2.RejectReason.Name(r.reason)} ({r.detail})")
            ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
            for name, step in (
                ("start", campaigns.StartCampaign),
                ("pause", campaigns.PauseCampaign),
                ("resume", campaigns.ResumeCampaign),
            ):
                print(f"{name}: {campaigns_pb2.CampaignState.Name(step(ref).state)}")
            sent = transactional_pb2_grpc.TransactionalStub(ch).SendMessage(
                transactional_pb2.SendMessageRequest(
                    idempotency_key="demo-receipt-1",
                    sender=common_pb2.Sender(from_address="orders@shop.example"),
                    to=common_pb2.Recipient(email="buyer@example.com", fields={"order": "1001"}),
                    content=common_pb2.Content(subject="Order {{ order }}", text="Thank you!"),
                )
            )
            print(f"transactional message {sent.message_id} queued in the priority lane")
            events = events_pb2_grpc.EventsStub(ch).ListEvents(events_pb2.ListEventsRequest())
            print(f"events log: {len(events.events)} events up to seq {events.next_after_seq}")
            counts = campaigns.GetCampaign(ref).counts
            print(f"tally: {counts.total} messages, {counts.queued} queued")
            ok = summary.accepted == RECIPIENTS and counts.queued == RECIPIENTS
    finally:
        code = agent.stop()
    print("agent stopped cleanly" if code == 0 else f"agent exited with {code}")
    return 0 if ok and code == 0 else 1


def main() -> None:
    """Entry point of ``make demo``."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-demo-") as tmp:
        sys.exit(run(Path(tmp)))


if __name__ == "__main__":
    main()
