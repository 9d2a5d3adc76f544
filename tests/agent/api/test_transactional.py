"""Transactional sends: idempotent, validated, in their own lane."""

from __future__ import annotations

import grpc
import pytest

from mailfleet.v1 import common_pb2, messages_pb2, transactional_pb2
from tests.agent.builders import transactional
from tests.peers.agent import AgentProcess, Stubs


@pytest.fixture(scope="module")
def stubs(shared_agent: AgentProcess) -> Stubs:
    return shared_agent.stubs()


def test_send_is_idempotent_and_lands_in_the_transactional_lane(stubs: Stubs) -> None:
    first = stubs.transactional.SendMessage(transactional("receipt-77"))
    again = stubs.transactional.SendMessage(transactional("receipt-77", email="other@example.com"))
    assert first.message_id == again.message_id
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.state == messages_pb2.MESSAGE_STATE_QUEUED
    msg = stubs.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=first.message_id))
    assert msg.lane == messages_pb2.LANE_TRANSACTIONAL
    assert msg.email == "buyer@example.com" and msg.campaign_id == 0
    assert msg.idempotency_key == "receipt-77"
    listed = stubs.messages.ListMessages(messages_pb2.ListMessagesRequest(limit=1000)).messages
    assert first.message_id in [m.id for m in listed]


def test_raw_mime_is_accepted_when_it_has_headers(stubs: Stubs) -> None:
    raw = b"From: shop@shop.example\r\nTo: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    req = transactional_pb2.SendMessageRequest(
        idempotency_key="raw-1",
        sender=common_pb2.Sender(from_address="shop@shop.example"),
        to=common_pb2.Recipient(email="a@example.com"),
        raw_mime=raw,
    )
    assert stubs.transactional.SendMessage(req).message_id > 0
    req.idempotency_key, req.raw_mime = "raw-2", b"no headers at all"
    with pytest.raises(grpc.RpcError) as err:
        stubs.transactional.SendMessage(req)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("raw_mime:")


def test_single_sends_name_the_bad_field(stubs: Stubs) -> None:
    req = transactional("bad-1", email="nope")
    with pytest.raises(grpc.RpcError) as err:
        stubs.transactional.SendMessage(req)
    assert (err.value.details() or "").startswith("to.email:")
    req = transactional("")
    with pytest.raises(grpc.RpcError) as err:
        stubs.transactional.SendMessage(req)
    assert (err.value.details() or "").startswith("idempotency_key:")
    req = transactional("bad-2")
    req.ClearField("content")
    with pytest.raises(grpc.RpcError) as err:
        stubs.transactional.SendMessage(req)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_batch_answers_each_message_and_keeps_the_good_ones(stubs: Stubs) -> None:
    good = [transactional(f"batch-{i}", email=f"b{i}@example.com") for i in range(3)]
    bad_address = transactional("batch-bad", email="b@@example.com")
    bad_template = transactional("batch-tpl")
    bad_template.content.subject = "{% if %}"
    reply = stubs.transactional.SendBatch(
        transactional_pb2.SendBatchRequest(
            messages=[good[0], bad_address, good[1], bad_template, good[2]]
        )
    )
    assert [r.index for r in reply.results] == [0, 1, 2, 3, 4]
    assert [r.WhichOneof("result") for r in reply.results] == [
        "queued",
        "rejected",
        "queued",
        "rejected",
        "queued",
    ]
    assert reply.results[1].rejected.reason == common_pb2.REJECT_REASON_SYNTAX
    assert reply.results[3].rejected.detail.startswith("messages[3].content.subject:")
    ids = {r.queued.message_id for r in reply.results if r.WhichOneof("result") == "queued"}
    assert len(ids) == 3
    with pytest.raises(grpc.RpcError) as err:
        stubs.transactional.SendBatch(transactional_pb2.SendBatchRequest())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
