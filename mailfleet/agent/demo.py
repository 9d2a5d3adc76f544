"""``make demo``: a fresh agent in a temporary directory delivers a campaign to a local sink.

A 10,000-recipient campaign with merge fields (and three deliberately bad rows) is created and
uploaded over gRPC, DKIM-signed with a key made for the demo, and delivered through an SMTP
relay route to a counting sink on 127.0.0.1. The demo shows progress, prints the tally and
checks that the sink received every message exactly once. Nothing leaves the machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mailfleet.agent import client
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.agent.config import load
from mailfleet.agent.demosink import CountingSink
from mailfleet.agent.dkim.keys import generate_key
from mailfleet.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    campaigns_pb2,
    campaigns_pb2_grpc,
    common_pb2,
    transactional_pb2,
    transactional_pb2_grpc,
)

RECIPIENTS = 10_000
BAD_ROWS = ["not-an-address", "user7@example.com", "evil@example.com\r\nBcc: x@example.com"]
DOMAIN = "shop.example"


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


def _relay_config(port: int) -> str:
    return (
        '[delivery]\ndefault_route = "sink"\n\n'
        f'[routes.sink]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n'
    )


def _follow(
    campaigns: campaigns_pb2_grpc.CampaignsStub, ref: campaigns_pb2.CampaignRef
) -> campaigns_pb2.Campaign:
    began = time.monotonic()
    last = campaigns.GetCampaign(ref)
    for last in campaigns.WatchCampaign(ref, timeout=600):
        c = last.counts
        print(
            f"  {time.monotonic() - began:5.1f} s  {campaigns_pb2.CampaignState.Name(last.state)}"
            f"  delivered {c.delivered}/{c.total}  in flight {c.in_flight}"
            f"  deferred {c.deferred}  bounced {c.bounced}  failed {c.failed}",
            flush=True,
        )
    return last


def run(workdir: Path) -> int:
    """Run the demo in ``workdir``; return the exit code."""
    sink = CountingSink(free_port())
    sink.start()
    agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}", _relay_config(sink.port))
    record = generate_key(load(agent.config).dkim_dir, DOMAIN, "demo", "rsa")
    print(f'DKIM key for {DOMAIN}: publish TXT {record.name} "{record.value[:40]}…"')
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
                    sender=common_pb2.Sender(from_name="Démo Shop", from_address=f"news@{DOMAIN}"),
                    content=common_pb2.Content(
                        subject="{{ first_name }}, autumn prices in {{ city }}",
                        html="<p>Hello {{ first_name }}, your {{ plan }} plan …</p>",
                    ),
                )
            )
            summary = campaigns.UploadRecipients(_batches(c.id))
            print(
                f"uploaded: {summary.received} rows = {summary.accepted} accepted "
                f"+ {summary.rejected} rejected"
            )
            for r in summary.rejections:
                print(f"  row {r.index}: {common_pb2.RejectReason.Name(r.reason)} ({r.detail})")
            transactional_pb2_grpc.TransactionalStub(ch).SendMessage(
                transactional_pb2.SendMessageRequest(
                    idempotency_key="demo-receipt-1",
                    sender=common_pb2.Sender(from_address=f"orders@{DOMAIN}"),
                    to=common_pb2.Recipient(email="buyer@example.com", fields={"order": "1001"}),
                    content=common_pb2.Content(subject="Order {{ order }}", text="Thank you!"),
                )
            )
            ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
            campaigns.StartCampaign(ref)
            final = _follow(campaigns, ref)
    finally:
        code = agent.stop()
        sink.stop()
    per_recipient, signed = sink.tally()
    expected = {f"user{i}@example.com" for i in range(RECIPIENTS)} | {"buyer@example.com"}
    once = set(per_recipient) == expected and all(n == 1 for n in per_recipient.values())
    print(
        f"tally: campaign {campaigns_pb2.CampaignState.Name(final.state)}, "
        f"{final.counts.delivered} delivered of {final.counts.total}; the sink received "
        f"{sum(per_recipient.values())} messages for {len(per_recipient)} recipients, "
        f"{signed} DKIM-signed"
    )
    print(
        "check: every recipient received exactly one message"
        if once
        else "check FAILED: the sink's tally does not match the recipients"
    )
    print("agent stopped cleanly" if code == 0 else f"agent exited with {code}")
    ok = once and signed == len(expected) and summary.accepted == RECIPIENTS
    return 0 if ok and code == 0 else 1


def main() -> None:
    """Entry point of ``make demo``."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-demo-") as tmp:
        sys.exit(run(Path(tmp)))


if __name__ == "__main__":
    main()
