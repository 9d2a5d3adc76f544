"""A desktop away longer than the agent keeps its events: the gap heals instead of looping."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest
from sqlalchemy import Engine

from mailfleet.desktop.agents import registry, upload
from mailfleet.desktop.agents.follow import Follower
from mailfleet.desktop.db.models import CampaignState
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.v1 import events_pb2
from tests.agent.builders import relay_config, wait_until
from tests.desktop.fleetkit import pair, seed_contacts, totals
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]
# Events kept about 3 seconds, pruned every second.
SHORT_RETENTION = "[retention]\nevents_days = 0.0000347\ninterval_seconds = 1\n"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as one:
        yield one


def _send(engine: Engine, ws: int, list_id: int, agent_id: int, name: str) -> int:
    draft = Draft(name=name, audience=Audience(lists=(list_id,)), subject="Hi", text="Hello",
                  from_address="news@shop.example.com", agents=((agent_id, 1),))  # fmt: skip
    campaign_id = campaigns.create(engine, ws, draft)
    upload.upload_campaign(engine, ws, campaign_id)
    return campaign_id


def _state(engine: Engine, ws: int, campaign_id: int) -> CampaignState:
    with engine.connect() as conn:
        return CampaignState(campaigns.get(conn, ws, campaign_id).state)


def _pruned(proc: AgentProcess, cursor: int) -> bool:
    try:
        proc.stubs().events.ListEvents(events_pb2.ListEventsRequest(after_seq=cursor, limit=1))
    except grpc.RpcError as exc:
        return exc.code() == grpc.StatusCode.OUT_OF_RANGE
    return False


def test_a_cursor_older_than_the_agents_retention_heals_and_following_goes_on(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 5)
    proc = agent_factory(relay_config(sink) + SHORT_RETENTION)
    record = pair(engine, ws, proc, "Paris")
    states: list[str] = []
    first = _send(engine, ws, list_id, record.id, "First")
    follower = Follower(engine, ws, record, lambda _a: None, lambda _i, s: states.append(s))
    follower.start()
    wait_until(lambda: _state(engine, ws, first) is CampaignState.COMPLETED, 60, "the first")
    follower.stop()  # the desktop closes
    with engine.connect() as conn:
        cursor = registry.get_agent(conn, ws, record.id).event_cursor
    assert cursor > 0

    second = _send(engine, ws, list_id, record.id, "Second")  # sent while the desktop is away
    sink.wait_for(10, timeout=60)
    wait_until(lambda: _pruned(proc, cursor), 60, "the agent pruning the events")

    states.clear()
    with engine.connect() as conn:
        fresh = registry.get_agent(conn, ws, record.id)
    follower = Follower(engine, ws, fresh, lambda _a: None, lambda _i, s: states.append(s))
    follower.start()
    try:
        wait_until(lambda: _state(engine, ws, second) is CampaignState.COMPLETED, 60, "healing")
        wait_until(lambda: "following" in states, 30, "following again")
    finally:
        follower.stop()
    assert not any("OUT_OF_RANGE" in s for s in states)
    figures = totals(engine, ws, second)
    # What the pruned events said is not known: the recipients say so instead of "queued".
    assert figures.queued == 0 and figures.unknown + figures.delivered == 5
    with engine.connect() as conn:
        assert registry.get_agent(conn, ws, record.id).event_cursor > cursor
    assert sink.count == 10 and sink.duplicates() == []
