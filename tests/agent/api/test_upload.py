"""Uploading recipients: every row accepted or rejected with a reason, nothing dropped."""

from __future__ import annotations

import grpc
import pytest

from mailfleet.v1 import campaigns_pb2, common_pb2, messages_pb2
from tests.agent.builders import batches, campaign_request, recipients
from tests.peers.agent import AgentProcess, Stubs

R = common_pb2.Recipient


@pytest.fixture(scope="module")
def stubs(shared_agent: AgentProcess) -> Stubs:
    return shared_agent.stubs()


def test_upload_accounts_for_every_row(stubs: Stubs) -> None:
    c = stubs.campaigns.CreateCampaign(campaign_request("accounting"))
    rows = [
        *recipients(1000),
        R(email="not an address"),  # 1000 syntax
        R(email="user5@EXAMPLE.com", values=["x", "y"]),  # 1001 duplicate (domain case)
        R(email="evil@example.com\r\nBcc: all@example.com"),  # 1002 header-unsafe
        R(email="ok1@example.com", name="Bad\nName"),  # 1003 header-unsafe name
        R(email="ok2@example.com", values=["a", "b", "c"]),  # 1004 too many values
        R(email="ok3@example.com", values=["nul\x00", "x"]),  # 1005 NUL in a value
        R(email="ok4@example.com", fields={"bad name": "x"}),  # 1006 bad field name
        R(email="fresh@example.com", fields={"plan": "gold"}),  # 1007 accepted
        R(email="fresh@example.com"),  # 1008 duplicate in stream
    ]
    summary = stubs.campaigns.UploadRecipients(batches(c.id, rows, size=300))
    assert summary.received == len(rows)
    assert summary.accepted == 1001
    assert summary.rejected == 8
    assert summary.received == summary.accepted + summary.rejected
    got = {(r.index, r.reason) for r in summary.rejections}
    assert got == {
        (1000, common_pb2.REJECT_REASON_SYNTAX),
        (1001, common_pb2.REJECT_REASON_DUPLICATE),
        (1002, common_pb2.REJECT_REASON_HEADER_UNSAFE),
        (1003, common_pb2.REJECT_REASON_HEADER_UNSAFE),
        (1004, common_pb2.REJECT_REASON_BAD_FIELDS),
        (1005, common_pb2.REJECT_REASON_HEADER_UNSAFE),
        (1006, common_pb2.REJECT_REASON_BAD_FIELDS),
        (1008, common_pb2.REJECT_REASON_DUPLICATE),
    }
    assert all(r.detail for r in summary.rejections)
    counts = stubs.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id)).counts
    assert counts.queued == counts.total == 1001


def test_a_second_upload_rejects_addresses_already_in_the_campaign(stubs: Stubs) -> None:
    c = stubs.campaigns.CreateCampaign(campaign_request("resume"))
    stubs.campaigns.UploadRecipients(batches(c.id, recipients(100)))
    again = stubs.campaigns.UploadRecipients(batches(c.id, recipients(150)))
    assert (again.received, again.accepted, again.rejected) == (150, 50, 100)
    assert {r.reason for r in again.rejections} == {common_pb2.REJECT_REASON_DUPLICATE}
    assert [r.index for r in again.rejections] == list(range(100))


def test_accepted_recipients_are_listed_in_upload_order(stubs: Stubs) -> None:
    c = stubs.campaigns.CreateCampaign(campaign_request("listing"))
    stubs.campaigns.UploadRecipients(batches(c.id, recipients(250), size=100))
    seen: list[str] = []
    after = 0
    while True:
        page = stubs.messages.ListMessages(
            messages_pb2.ListMessagesRequest(campaign_id=c.id, after_id=after, limit=100)
        )
        if not page.messages:
            break
        seen.extend(m.email for m in page.messages)
        after = page.messages[-1].id
        assert all(m.state == messages_pb2.MESSAGE_STATE_QUEUED for m in page.messages)
        assert all(m.lane == messages_pb2.LANE_BULK for m in page.messages)
    assert seen == [f"user{i}@example.com" for i in range(250)]


@pytest.mark.parametrize(
    ("stream", "field"),
    [
        ([campaigns_pb2.RecipientBatch(recipients=recipients(1))], "campaign_id"),
        ([], "campaign_id"),
        (
            [campaigns_pb2.RecipientBatch(campaign_id=1, field_names=["ok", "not ok"])],
            "field_names[1]",
        ),
        ([campaigns_pb2.RecipientBatch(campaign_id=1, field_names=["email"])], "field_names[0]"),
    ],
)
def test_malformed_streams_are_invalid_argument(
    stubs: Stubs, stream: list[campaigns_pb2.RecipientBatch], field: str
) -> None:
    stubs.campaigns.CreateCampaign(campaign_request("malformed"))
    with pytest.raises(grpc.RpcError) as err:
        stubs.campaigns.UploadRecipients(iter(stream))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith(f"{field}:")


def test_one_stream_feeds_one_campaign(stubs: Stubs) -> None:
    a = stubs.campaigns.CreateCampaign(campaign_request("stream-a"))
    b = stubs.campaigns.CreateCampaign(campaign_request("stream-b"))
    stream = [
        campaigns_pb2.RecipientBatch(campaign_id=a.id, recipients=recipients(2)),
        campaigns_pb2.RecipientBatch(campaign_id=b.id, recipients=recipients(2, start=2)),
    ]
    with pytest.raises(grpc.RpcError) as err:
        stubs.campaigns.UploadRecipients(iter(stream))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_oversized_calls_are_resource_exhausted(stubs: Stubs) -> None:
    c = stubs.campaigns.CreateCampaign(campaign_request("huge"))
    big = campaigns_pb2.RecipientBatch(
        campaign_id=c.id, recipients=[R(email="a@example.com", fields={"blob": "x" * (40 << 20)})]
    )
    with pytest.raises(grpc.RpcError) as err:
        stubs.campaigns.UploadRecipients(iter([big]))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (
        stubs.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id)).counts.total == 0
    )
