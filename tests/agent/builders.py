"""Small constructors for the requests and configurations the agent tests use."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from google.protobuf.message import Message

from mailfleet.v1 import campaigns_pb2, common_pb2, transactional_pb2
from tests.peers.agent import Stubs
from tests.peers.smtp import SmtpSink


def campaign_request(
    key: str = "campaign-1", **fields: object
) -> campaigns_pb2.CreateCampaignRequest:
    """A valid CreateCampaignRequest; keyword arguments replace its fields."""
    request = campaigns_pb2.CreateCampaignRequest(
        name="Autumn sale",
        idempotency_key=key,
        sender=common_pb2.Sender(from_name="Shop", from_address="news@shop.example"),
        content=common_pb2.Content(
            subject="Hello {{ first_name }}",
            html="<p>Hi {{ first_name }} from {{ city }}</p>",
            text="Hi {{ first_name }}",
        ),
        tags=["autumn"],
    )
    for name, value in fields.items():
        if isinstance(value, Message):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    return request


def recipients(n: int, start: int = 0, domain: str = "example.com") -> list[common_pb2.Recipient]:
    """``n`` valid recipients with two positional fields."""
    return [
        common_pb2.Recipient(email=f"user{i}@{domain}", values=[f"First{i}", "Paris"])
        for i in range(start, start + n)
    ]


def batches(
    campaign_id: int, rows: Sequence[common_pb2.Recipient], size: int = 500
) -> Iterator[campaigns_pb2.RecipientBatch]:
    """An upload stream: field names on the first batch, ``size`` rows a batch."""
    for offset in range(0, max(len(rows), 1), size):
        batch = campaigns_pb2.RecipientBatch(
            campaign_id=campaign_id, recipients=rows[offset : offset + size]
        )
        if offset == 0:
            batch.field_names.extend(["first_name", "city"])
        yield batch


def transactional(
    key: str, email: str = "buyer@example.com"
) -> transactional_pb2.SendMessageRequest:
    """A valid templated transactional message."""
    return transactional_pb2.SendMessageRequest(
        idempotency_key=key,
        sender=common_pb2.Sender(from_address="orders@shop.example"),
        to=common_pb2.Recipient(email=email, name="Buyer", fields={"order": "1234"}),
        content=common_pb2.Content(
            subject="Order {{ order }}", text="Thanks for order {{ order }}"
        ),
    )


def run_campaign(stubs: Stubs, key: str, emails: Sequence[str]) -> campaigns_pb2.Campaign:
    """Create, fill and start a campaign to ``emails``; return it once it has completed."""
    c = stubs.campaigns.CreateCampaign(campaign_request(key))
    rows = [common_pb2.Recipient(email=e, values=["Ann", "Paris"]) for e in emails]
    stubs.campaigns.UploadRecipients(batches(c.id, rows))
    return start_and_wait(stubs, c.id)


def relay_config(sink: SmtpSink, delivery: str = "") -> str:
    """TOML for an agent whose default route is a plain SMTP relay to ``sink``."""
    return (
        f'[delivery]\nworkers = 2\ndefault_route = "relay"\n{delivery}\n'
        f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\n'
        'tls = "none"\n'
    )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.1 s until true, else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def start_and_wait(stubs: Stubs, campaign_id: int, timeout: float = 60) -> campaigns_pb2.Campaign:
    """Start the campaign; return it once it has completed."""
    ref = campaigns_pb2.CampaignRef(campaign_id=campaign_id)
    stubs.campaigns.StartCampaign(ref)
    wait_until(
        lambda: stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED,
        timeout,
        f"campaign {campaign_id} to complete",
    )
    return stubs.campaigns.GetCampaign(ref)
