"""Campaign creation, field checks, idempotency and the state machine."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mailfleet.v1 import campaigns_pb2, common_pb2, messages_pb2
from tests.agent.builders import batches, campaign_request, recipients
from tests.peers.agent import AgentProcess, Stubs

CampaignState = campaigns_pb2.CampaignState


@pytest.fixture(scope="module")
def stubs(shared_agent: AgentProcess) -> Stubs:
    return shared_agent.stubs()


def _ref(campaign_id: int) -> campaigns_pb2.CampaignRef:
    return campaigns_pb2.CampaignRef(campaign_id=campaign_id)


def test_create_returns_a_draft_with_what_was_asked(stubs: Stubs) -> None:
    c = stubs.campaigns.CreateCampaign(campaign_request("create-1", throttle_per_minute=600))
    assert c.id > 0
    assert c.state == CampaignState.CAMPAIGN_STATE_DRAFT
    assert c.sender.from_address == "news@shop.example"
    assert c.content.subject == "Hello {{ first_name }}"
    assert c.throttle_per_minute == 600
    assert list(c.tags) == ["autumn"]
    assert c.counts.total == 0


def test_the_same_idempotency_key_returns_the_same_campaign(stubs: Stubs) -> None:
    first = stubs.campaigns.CreateCampaign(campaign_request("idem-1"))
    again = stubs.campaigns.CreateCampaign(campaign_request("idem-1", name="other name"))
    other = stubs.campaigns.CreateCampaign(campaign_request("idem-2"))
    assert again.id == first.id and again.name == first.name
    assert other.id != first.id


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"idempotency_key": ""}, "idempotency_key", "required"),
        ({"name": ""}, "name", "required"),
        (
            {"sender": common_pb2.Sender(from_address="not-an-address")},
            "sender.from_address",
            "not a valid email address",
        ),
        (
            {"sender": common_pb2.Sender(from_address="a@shop.example", from_name="x\r\nBcc: y")},
            "sender.from_name",
            "control characters",
        ),
        (
            {"content": common_pb2.Content(subject="", html="<p>x</p>")},
            "content.subject",
            "required",
        ),
        ({"content": common_pb2.Content(subject="s")}, "content.html", "html or text"),
        (
            {"content": common_pb2.Content(subject="s", html="<p>\n\n{{ x + }}</p>")},
            "content.html",
            "line 3",
        ),
        (
            {"content": common_pb2.Content(subject="Hi {{ name", text="t")},
            "content.subject",
            "template error",
        ),
        (
            {"content": common_pb2.Content(subject="s", text="t", headers={"From": "x@y.example"})},
            "content.headers",
            "not a header a campaign may set",
        ),
    ],
)
def test_bad_fields_are_invalid_argument_naming_the_field(
    stubs: Stubs, change: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stubs.campaigns.CreateCampaign(campaign_request("bad-fields", **change))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.value.details() or ""
    assert details.startswith(f"{field}:"), details
    assert fragment in details


def test_pause_resume_cancel_change_state_and_cancel_stops_the_messages(stubs: Stubs) -> None:
    # A start an hour ahead keeps the scheduler from sending while the states change.
    later = Timestamp(seconds=int(time.time()) + 3600)
    c = stubs.campaigns.CreateCampaign(campaign_request("lifecycle", start_at=later))
    stubs.campaigns.UploadRecipients(batches(c.id, recipients(30)))
    with pytest.raises(grpc.RpcError) as err:
        stubs.campaigns.PauseCampaign(_ref(c.id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "draft" in (err.value.details() or "")

    scheduled = CampaignState.CAMPAIGN_STATE_SCHEDULED
    assert stubs.campaigns.StartCampaign(_ref(c.id)).state == scheduled
    assert stubs.campaigns.PauseCampaign(_ref(c.id)).state == CampaignState.CAMPAIGN_STATE_PAUSED
    assert stubs.campaigns.GetCampaign(_ref(c.id)).state == CampaignState.CAMPAIGN_STATE_PAUSED
    assert stubs.campaigns.ResumeCampaign(_ref(c.id)).state == scheduled
    cancelled = stubs.campaigns.CancelCampaign(_ref(c.id))
    assert cancelled.state == CampaignState.CAMPAIGN_STATE_CANCELLED
    assert cancelled.counts.cancelled == 30 and cancelled.counts.queued == 0
    listed = stubs.messages.ListMessages(
        messages_pb2.ListMessagesRequest(
            campaign_id=c.id, state=messages_pb2.MESSAGE_STATE_CANCELLED, limit=1000
        )
    )
    assert len(listed.messages) == 30

    # cancelling again is harmless; resuming a cancelled campaign is not allowed
    assert stubs.campaigns.CancelCampaign(_ref(c.id)).state == (
        CampaignState.CAMPAIGN_STATE_CANCELLED
    )
    with pytest.raises(grpc.RpcError) as err:
        stubs.campaigns.ResumeCampaign(_ref(c.id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        stubs.campaigns.UploadRecipients(batches(c.id, recipients(1, start=500)))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_started_campaign_with_a_future_start_is_scheduled(stubs: Stubs) -> None:
    start = Timestamp(seconds=int(time.time()) + 3600)
    c = stubs.campaigns.CreateCampaign(campaign_request("later", start_at=start))
    assert c.start_at.seconds == start.seconds
    assert stubs.campaigns.StartCampaign(_ref(c.id)).state == (
        CampaignState.CAMPAIGN_STATE_SCHEDULED
    )


def test_unknown_campaigns_are_not_found(stubs: Stubs) -> None:
    for call in (
        stubs.campaigns.GetCampaign,
        stubs.campaigns.StartCampaign,
        stubs.campaigns.CancelCampaign,
    ):
        with pytest.raises(grpc.RpcError) as err:
            call(_ref(987654))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_pages_newest_first(stubs: Stubs) -> None:
    made = [stubs.campaigns.CreateCampaign(campaign_request(f"page-{i}")).id for i in range(5)]
    first = stubs.campaigns.ListCampaigns(campaigns_pb2.ListCampaignsRequest(limit=3))
    ids = [c.id for c in first.campaigns]
    assert ids == sorted(ids, reverse=True) and ids[0] == made[-1]
    rest = stubs.campaigns.ListCampaigns(
        campaigns_pb2.ListCampaignsRequest(before_id=ids[-1], limit=1000)
    )
    assert all(c.id < ids[-1] for c in rest.campaigns)
    assert set(made) <= set(ids) | {c.id for c in rest.campaigns}


def test_watch_streams_changes_and_ends_when_cancelled(stubs: Stubs) -> None:
    c = stubs.campaigns.CreateCampaign(campaign_request("watched"))
    stream = iter(stubs.campaigns.WatchCampaign(_ref(c.id), timeout=30))
    seen = [next(stream)]
    assert seen[0].state == CampaignState.CAMPAIGN_STATE_DRAFT
    stubs.campaigns.UploadRecipients(batches(c.id, recipients(10)))
    stubs.campaigns.CancelCampaign(_ref(c.id))
    seen.extend(stream)  # the stream ends by itself after the cancel
    assert seen[-1].state == CampaignState.CAMPAIGN_STATE_CANCELLED
    assert seen[-1].counts.cancelled == 10
