"""The agent's life cycle: SIGHUP reloads, SIGTERM drains within its bound, migrations that
are interrupted leave the store as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailfleet.agent.store.db import connect
from mailfleet.agent.store.schema import MIGRATIONS, current_version, migrate
from mailfleet.v1 import campaigns_pb2, capture_pb2, common_pb2, events_pb2, routing_pb2
from tests.agent.builders import (
    batches,
    campaign_request,
    relay_config,
    transactional,
    wait_until,
)
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink, stall

AgentFactory = Callable[[str], AgentProcess]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def start_campaign(stubs: Stubs, emails: list[str], key: str, throttle: int = 0) -> int:
    c = stubs.campaigns.CreateCampaign(campaign_request(key, throttle_per_minute=throttle))
    rows = [common_pb2.Recipient(email=e, values=["A", "B"]) for e in emails]
    assert stubs.campaigns.UploadRecipients(batches(c.id, rows)).accepted == len(rows)
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))
    return c.id


def delivered(stubs: Stubs) -> int:
    found = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    return sum(e.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED for e in found)


def hangup(agent: AgentProcess, expect: str) -> None:
    """SIGHUP, then wait for the agent to log ``expect``."""
    before = agent.log().count(expect)
    assert agent.proc is not None
    agent.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: agent.log().count(expect) > before, 30, f"the log line {expect!r}")


def test_sighup_reloads_routes_and_limits_without_dropping_queued_mail(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    emails = [f"user{i}@example.com" for i in range(300)]
    with SmtpSink() as second:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        pid = agent.proc.pid if agent.proc else 0
        start_campaign(stubs, emails, "reload", throttle=1800)
        wait_until(lambda: delivered(stubs) >= 30, 60, "the first deliveries")

        # A config that cannot work is refused; the agent goes on as it was.
        good = agent.config.read_text()
        agent.config.write_text(good.replace('default_route = "relay"', 'default_route = "nope"'))
        hangup(agent, "reload refused")
        assert "no route named 'nope'" in agent.log()

        # The relay moves to the second sink with one connection per worker.
        moved = good.replace(f"port = {sink.port}", f"port = {second.port}")
        agent.config.write_text(moved + "\n[routes.relay.limits]\nconnections = 1\n")
        hangup(agent, "reloaded ")
        at_reload = sink.count
        wait_until(lambda: delivered(stubs) == len(emails), 90, "every delivery")

        assert agent.proc is not None and agent.proc.pid == pid and agent.proc.poll() is None
        assert 0 < at_reload < len(emails)
        arrived = [r.rcpt_to[0] for r in sink.received + second.received]
        assert sorted(arrived) == sorted(emails)  # each exactly once, across both
        assert second.count >= len(emails) - at_reload - 2 * 50  # all but what was in flight
        assert second.max_concurrent <= 2  # one connection in each of the 2 workers


def captured(stubs: Stubs) -> list[str]:
    """Recipients of every message in the capture mailbox."""
    reply = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=1000))
    return [m.rcpt_to for m in reply.messages]


def delivered_routes(stubs: Stubs) -> dict[str, str]:
    """The route each delivered recipient went by, from the events."""
    found = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    return {
        e.email: e.attrs["route"]
        for e in found
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED
    }


_CAPTURE_RULE = """
[routes.capture]
type = "capture"

[[routing.rules]]
name = "shop"
recipient_domains = ["example.com"]
route = "capture"
"""


def test_sighup_rebuilds_the_routing_rules_without_losing_or_repeating_mail(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    emails = [f"user{i}@example.com" for i in range(240)]
    agent = agent_factory(relay_config(sink) + _CAPTURE_RULE)
    stubs = agent.stubs()
    before = stubs.routing.GetRules(routing_pb2.GetRulesRequest())
    assert [r.route for r in before.rules] == ["capture"]
    start_campaign(stubs, emails, "rules", throttle=1800)
    wait_until(lambda: delivered(stubs) >= 30, 60, "the first deliveries")

    # The rule now sends example.com through the relay; mail in flight finishes where it was.
    moved = agent.config.read_text().replace('route = "capture"', 'route = "relay"')
    agent.config.write_text(moved)
    hangup(agent, "reloaded ")
    at_reload = len(captured(stubs))
    stubs.transactional.SendMessage(transactional("after", "late@example.com"))
    wait_until(lambda: delivered(stubs) == len(emails) + 1, 90, "every delivery")

    after = stubs.routing.GetRules(routing_pb2.GetRulesRequest())
    assert [r.route for r in after.rules] == ["relay"] and after.version > before.version
    in_capture = captured(stubs)
    in_sink = [r.rcpt_to[0] for r in sink.received]
    assert sorted(in_capture + in_sink) == sorted([*emails, "late@example.com"])  # once each
    assert 0 < at_reload < len(emails)
    assert len(in_capture) <= at_reload + 2 * 50  # only what the old workers held
    assert "late@example.com" in in_sink
    routes = delivered_routes(stubs)
    assert {routes[e] for e in in_capture} == {"capture"}
    assert {routes[e] for e in in_sink} == {"relay"}


def test_sigterm_drains_in_flight_deliveries_within_its_bound(
    agent_factory: AgentFactory, sink: SmtpSink
) -> None:
    quick = [f"quick{i}@example.com" for i in range(20)]
    stuck = [f"stuck{i}@stuck.test" for i in range(5)]
    for address in stuck:
        sink.rule(address, stall(120))
    agent = agent_factory(relay_config(sink))
    stubs = agent.stubs()
    cid = start_campaign(stubs, quick + stuck, "drain")
    wait_until(lambda: delivered(stubs) == len(quick), 60, "the quick deliveries")
    wait_until(lambda: sink.active >= 1, 30, "a stalled session")

    started = time.monotonic()
    assert agent.terminate(timeout=60) == 0
    took = time.monotonic() - started
    # 5 s for open calls and 10 s for deliveries, then the stuck ones are abandoned.
    assert took < 25, f"SIGTERM took {took:.1f} s"

    # Nothing committed is lost or sent again; the abandoned messages are still to be sent.
    sink.rules.clear()
    agent.start()
    ref = campaigns_pb2.CampaignRef(campaign_id=cid)
    final = list(stubs.campaigns.WatchCampaign(ref, timeout=120))[-1]
    assert final.counts.delivered == len(quick) + len(stuck)
    assert sorted(r.rcpt_to[0] for r in sink.received) == sorted(quick + stuck)


_SLOW_MIGRATION = """
CREATE TABLE filler (n INTEGER PRIMARY KEY, pad TEXT NOT NULL);
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 3000000)
INSERT INTO filler SELECT n, printf('%040d', n) FROM seq;
"""


def test_a_migration_killed_half_way_leaves_the_previous_version_and_runs_again(
    tmp_path: Path,
) -> None:
    db = tmp_path / "agent.db"
    migrate(connect(db))
    script = textwrap.dedent(
        f"""
        import sys
        from mailfleet.agent.store.db import connect
        from mailfleet.agent.store.schema import MIGRATIONS, migrate
        migrate(connect(sys.argv[1]), (*MIGRATIONS, {_SLOW_MIGRATION!r}))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(db)])
    wal = Path(f"{db}-wal")
    try:
        wait_until(lambda: wal.exists() and wal.stat().st_size > 4_000_000, 60, "the WAL to grow")
        assert proc.poll() is None, "the migration finished before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)

    conn = connect(db)
    assert current_version(conn) == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "filler" not in tables
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    smaller = _SLOW_MIGRATION.replace("3000000", "1000")
    assert migrate(conn, (*MIGRATIONS, smaller)) == len(MIGRATIONS) + 1
    assert conn.execute("SELECT count(*) FROM filler").fetchone() == (1000,)


def test_a_failing_migration_rolls_back_on_the_same_connection(tmp_path: Path) -> None:
    conn = connect(tmp_path / "agent.db")
    migrate(conn)
    broken = "CREATE TABLE half (n INTEGER); INSERT INTO no_such_table VALUES (1);"
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        migrate(conn, (*MIGRATIONS, broken))
    assert not conn.in_transaction
    assert current_version(conn) == len(MIGRATIONS)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchone() is None
    fixed = "CREATE TABLE half (n INTEGER);"
    assert migrate(conn, (*MIGRATIONS, fixed)) == len(MIGRATIONS) + 1
