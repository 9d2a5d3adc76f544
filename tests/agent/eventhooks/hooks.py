"""What the event webhook tests share: an agent that may post to 127.0.0.1, and its config."""

from __future__ import annotations

from mailfleet.v1 import events_pb2, webhooks_pb2
from tests.peers.agent import Stubs

# Fast retries, small batches, and the receiver on this machine allowed by name.
LOOPBACK_HOOKS = """
[webhooks]
allow_http = true
allow_networks = ["127.0.0.1/32"]
batch_events = 7
batch_wait_ms = 50
first_retry_seconds = 0.2
max_retry_seconds = 1.0
"""


def webhook(stubs: Stubs, webhook_id: int) -> webhooks_pb2.Webhook:
    """The endpoint as the agent shows it now."""
    found = stubs.webhooks.ListWebhooks(webhooks_pb2.ListWebhooksRequest(), timeout=10)
    return next(w for w in found.webhooks if w.id == webhook_id)


def log_after(stubs: Stubs, after_seq: int) -> list[events_pb2.Event]:
    """The caller's events in the log after ``after_seq``, all of them."""
    found: list[events_pb2.Event] = []
    while True:
        page = stubs.events.ListEvents(
            events_pb2.ListEventsRequest(after_seq=after_seq, limit=1000), timeout=10
        )
        if not page.events:
            return found
        found.extend(page.events)
        after_seq = page.next_after_seq
