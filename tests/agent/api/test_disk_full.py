"""gRPC on a full disk: writes answer UNAVAILABLE with one line (no traceback in the log),
reads keep answering, and writes succeed again once space is freed, without a restart (a
real agent whose data directory is a small tmpfs)."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from mailfleet.v1 import (
    campaigns_pb2,
    capture_pb2,
    common_pb2,
    messages_pb2,
    routing_pb2,
    transactional_pb2,
)
from tests.agent.builders import batches, campaign_request, transactional
from tests.agent.intake.peer import wait_for
from tests.peers.agent import AgentProcess
from tests.peers.small_disk import SmallDisk

_ONE_LINE = "the agent's disk is full; try again once its operator has freed space"


def _big_send(key: str) -> transactional_pb2.SendMessageRequest:
    """A send whose content alone needs more room than the store's log has spare."""
    return transactional_pb2.SendMessageRequest(
        idempotency_key=key,
        sender=common_pb2.Sender(from_address="orders@shop.example"),
        to=common_pb2.Recipient(email="buyer@example.com"),
        content=common_pb2.Content(subject="Catalogue", text="x" * 999_000, html="y" * 999_000),
    )


def _metric(agent: AgentProcess, name: str) -> float:
    _, text = agent.http_get("/metrics")
    [value] = [
        line.split()[1] for line in text.decode().splitlines() if line.startswith(f"{name} ")
    ]
    return float(value)


def _healthz(agent: AgentProcess) -> tuple[int, dict[str, str]]:
    status, body = agent.http_get("/healthz")
    return status, json.loads(body)


def test_writes_answer_unavailable_in_one_line_until_space_is_freed(tmp_path: Path) -> None:
    with SmallDisk(tmp_path / "agent", mib=16) as disk:
        agent = AgentProcess(disk.path)
        try:
            agent.start()
            stubs = agent.stubs()
            disk.fill()
            for call in (
                lambda: stubs.transactional.SendMessage(_big_send("big-1")),
                lambda: stubs.transactional.SendMessage(transactional("small-1")),
                lambda: stubs.campaigns.CreateCampaign(campaign_request("full-1")),
                # Not the store: the rules file beside it.
                lambda: stubs.routing.SetRules(routing_pb2.SetRulesRequest(rules=[])),
            ):
                with pytest.raises(grpc.RpcError) as err:
                    call()
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE
                assert err.value.details() == _ONE_LINE
            # Reads need no space.
            listed = stubs.messages.ListMessages(messages_pb2.ListMessagesRequest(limit=10))
            assert list(listed.messages) == []
            assert _healthz(agent) == (
                503,
                {"status": "unavailable", "reason": f"disk full at {disk.path}"},
            )

            disk.free()
            wait_for(lambda: _healthz(agent)[0] == 200, timeout=30)
            sent = stubs.transactional.SendMessage(transactional("small-1"))
            assert sent.message_id > 0
            assert stubs.campaigns.CreateCampaign(campaign_request("full-1")).id > 0
            assert agent.proc is not None and agent.proc.poll() is None
        finally:
            agent.close()
        assert "Traceback" not in agent.log()
        assert "internal error" not in agent.log()


def test_a_result_that_does_not_fit_waits_in_memory_and_is_written_when_space_returns(
    tmp_path: Path,
) -> None:
    """A fresh agent captures: the captured copy of a large message is written with the
    delivery's result, so on a nearly full disk that result cannot be written."""
    with SmallDisk(tmp_path / "agent", mib=16) as disk:
        agent = AgentProcess(disk.path)
        try:
            agent.start()
            stubs = agent.stubs()
            # A small template that renders to about 4 MB: the campaign itself is small.
            lines = "{% for i in range(50000) %}" + "x" * 76 + "\n{% endfor %}"
            big = common_pb2.Content(subject="Catalogue", text=lines)
            campaign = stubs.campaigns.CreateCampaign(campaign_request("big-1", content=big))
            row = common_pb2.Recipient(email="reader@example.com", values=["Ann", "Paris"])
            stubs.campaigns.UploadRecipients(batches(campaign.id, [row]))
            # Room for starting and claiming, not for the 4 MB copy the capture route keeps.
            disk.fill(leave=256 * 1024)
            stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=campaign.id))

            wait_for(lambda: _metric(agent, "mailfleet_store_held_writes") == 1, timeout=30)
            assert _metric(agent, "mailfleet_store_disk_full") == 1
            [message] = stubs.messages.ListMessages(
                messages_pb2.ListMessagesRequest(campaign_id=campaign.id, limit=10)
            ).messages
            assert message.state == messages_pb2.MESSAGE_STATE_IN_FLIGHT
            assert _healthz(agent)[0] == 503

            disk.free()
            wait_for(lambda: _healthz(agent)[0] == 200, timeout=30)
            got = stubs.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=message.id))
            assert got.state == messages_pb2.MESSAGE_STATE_DELIVERED
            kept = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=10)).messages
            assert [m.message_id for m in kept] == [message.id]  # written once, sent once
            assert _metric(agent, "mailfleet_store_held_writes") == 0
            assert agent.proc is not None and agent.proc.poll() is None
        finally:
            agent.close()
        assert "Traceback" not in agent.log()
