"""Event webhooks beside delivery: does an endpoint that gets every event slow the campaign?

The same campaign (BENCH_WEBHOOKS_ROWS messages, default 20000, plain text) through the SMTP
relay route to Postfix's smtp-sink on 127.0.0.1, once with no webhook and once with an endpoint
of every event type posting to a receiver on 127.0.0.1 (which verifies every signature). Prints
the delivery rate of each run, and for the second how many events the receiver took, in how
many POSTs, and how long after the campaign's end the last of them arrived.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mailfleet.agent import client
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.v1 import campaigns_pb2, common_pb2, webhooks_pb2
from tests.peers.webhooks import WebhookReceiver

ROWS = int(os.environ.get("BENCH_WEBHOOKS_ROWS", "20000"))
_HOOKS = '[webhooks]\nallow_http = true\nallow_networks = ["127.0.0.1/32"]\n'


def _batches(campaign_id: int) -> Iterator[campaigns_pb2.RecipientBatch]:
    for start in range(0, ROWS, 5000):
        batch = campaigns_pb2.RecipientBatch(campaign_id=campaign_id)
        for i in range(start, min(start + 5000, ROWS)):
            batch.recipients.append(common_pb2.Recipient(email=f"r{i}@d{i % 100}.example"))
        yield batch


def _run(workdir: Path, sink_port: int, receiver: WebhookReceiver | None) -> dict[str, float]:
    config = (
        '[delivery]\nworkers = 2\ndefault_route = "relay"\n\n'
        f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n'
        'tls = "none"\n[routes.relay.limits]\nconnections = 50\nmessages_per_connection = 1000\n'
        + _HOOKS
    )
    agent = LocalAgent(workdir, f"127.0.0.1:{free_port()}", config)
    agent.start(workdir.parent / f"{workdir.name}.log")
    try:
        with client.channel(agent.pairing) as ch:
            stubs = AgentStubs.on(ch)
            if receiver is not None:
                made = stubs.webhooks.CreateWebhook(
                    webhooks_pb2.CreateWebhookRequest(url=receiver.url())
                )
                receiver.secret = made.secret
            c = stubs.campaigns.CreateCampaign(
                campaigns_pb2.CreateCampaignRequest(
                    name="bench",
                    idempotency_key="bench",
                    sender=common_pb2.Sender(from_address="news@shop.example"),
                    content=common_pb2.Content(subject="Offers", text="Our offers this week."),
                )
            )
            stubs.campaigns.UploadRecipients(_batches(c.id))
            ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
            began = time.monotonic()
            stubs.campaigns.StartCampaign(ref)
            for state in stubs.campaigns.WatchCampaign(ref, timeout=3600):
                final = state
            elapsed = time.monotonic() - began
            assert final.counts.delivered == ROWS, final.counts
            result = {"rate": ROWS / elapsed}
            if receiver is not None:
                deadline = time.monotonic() + 600
                while _events(receiver, "message.delivered") < ROWS:
                    assert time.monotonic() < deadline, "the receiver did not get every event"
                    time.sleep(0.5)  # parsing every body is not free: look now and then
                result["lag"] = time.monotonic() - began - elapsed
                result["events"] = _events(receiver)
                result["posts"] = len(receiver.taken())
                result["unverified"] = sum(not r.verified for r in receiver.received)
            return result
    finally:
        agent.stop()


def _events(receiver: WebhookReceiver, type_: str = "") -> int:
    """Events the receiver took (of ``type_`` only, when given)."""
    events = [e for r in receiver.taken() for e in r.json()["events"]]
    return sum(1 for e in events if not type_ or e["type"] == type_)


def main() -> None:
    """Run both cases and print their figures."""
    port = free_port()
    sink = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-m", "1024", f"127.0.0.1:{port}", "1024"]
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            plain = _run(Path(tmp) / "plain", port, None)
            with WebhookReceiver() as receiver:
                hooked = _run(Path(tmp) / "hooked", port, receiver)
    finally:
        sink.terminate()
        sink.wait(10)
    print(f"campaign of {ROWS} messages, relay to smtp-sink")
    print(f"  without webhooks: {plain['rate']:.0f} msgs/s")
    print(
        f"  with one endpoint of every event: {hooked['rate']:.0f} msgs/s; the receiver took"
        f" {hooked['events']:.0f} events in {hooked['posts']:.0f} POSTs, the last"
        f" {hooked['lag']:.1f} s after the campaign ended; {hooked['unverified']:.0f} unverified"
    )


if __name__ == "__main__":
    main()
