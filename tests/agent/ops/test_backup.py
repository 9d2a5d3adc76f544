"""``backup`` while a campaign runs, ``restore`` into another agent, and the store is whole."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mailfleet.agent.identity.pairing import Pairing
from mailfleet.agent.model import FINAL_STATES, EventType, MessageState
from mailfleet.v1 import campaigns_pb2, events_pb2
from tests.agent.builders import batches, campaign_request, recipients, wait_until
from tests.peers.agent import AgentProcess, agent_command

AgentFactory = Callable[[str], AgentProcess]
TOTAL = 1500

_FINAL_EVENTS = {
    MessageState.DELIVERED: EventType.MESSAGE_DELIVERED,
    MessageState.BOUNCED: EventType.MESSAGE_BOUNCED,
    MessageState.FAILED: EventType.MESSAGE_FAILED,
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_command(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def assert_consistent(db: Path, campaign_id: int) -> dict[int, int]:
    """Every message's state agrees with the events log, as one transaction left them."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        states = dict(
            conn.execute(
                "SELECT state, count(*) FROM messages WHERE campaign_id = ? GROUP BY state",
                (campaign_id,),
            ).fetchall()
        )
        assert sum(states.values()) == TOTAL
        for state, event in _FINAL_EVENTS.items():
            # Each message in a final state has exactly one final event, and no other has one.
            mismatched = conn.execute(
                "SELECT count(*) FROM messages AS m WHERE m.campaign_id = ? AND"
                " (m.state = ?) != ((SELECT count(*) FROM events AS e WHERE e.message_id = m.id"
                " AND e.type = ?) = 1)",
                (campaign_id, int(state), int(event)),
            ).fetchone()[0]
            assert mismatched == 0, f"{mismatched} messages disagree with {event.name} events"
        return {int(k): int(v) for k, v in states.items()}
    finally:
        conn.close()


def test_a_backup_taken_during_a_campaign_restores_to_a_consistent_store(
    agent_factory: AgentFactory, tmp_path: Path
) -> None:
    agent = agent_factory("[delivery]\nworkers = 2\n")  # the capture route: nothing leaves
    stubs = agent.stubs()
    c = stubs.campaigns.CreateCampaign(campaign_request("backup", throttle_per_minute=6000))
    assert stubs.campaigns.UploadRecipients(batches(c.id, recipients(TOTAL))).accepted == TOTAL
    stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))

    def delivered() -> int:
        counts = stubs.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id)).counts
        return int(counts.delivered)

    wait_until(lambda: delivered() >= 200, 60, "the campaign to be under way")
    archive = tmp_path / "backups" / "agent.tar.gz"
    made = cli("backup", str(archive), "--config", str(agent.config))
    assert made.returncode == 0, made.stderr
    assert delivered() < TOTAL, "the campaign ended before the backup: nothing was shown"
    assert archive.stat().st_mode & 0o777 == 0o600
    again = cli("backup", str(archive), "--config", str(agent.config))
    assert again.returncode == 1 and "exists" in again.stderr  # never overwritten silently

    # Restore into a second, stopped agent: its keys and store become the first one's.
    other = AgentProcess(tmp_path / "restored")
    refused = cli("restore", str(archive), "--config", str(other.config))
    assert refused.returncode == 1 and "--force" in refused.stderr
    restored = cli("restore", str(archive), "--config", str(other.config), "--force")
    assert restored.returncode == 0, restored.stderr
    states = assert_consistent(other.data_dir / "agent.db", c.id)
    assert states.get(int(MessageState.DELIVERED), 0) >= 200
    assert sum(n for s, n in states.items() if MessageState(s) not in FINAL_STATES) > 0
    assert (other.data_dir / "tls" / "agent.key").read_bytes() == (
        agent.data_dir / "tls" / "agent.key"
    ).read_bytes()

    # The restored agent answers with the first agent's keys and finishes the campaign.
    agent.terminate()
    other.pairing = Pairing(
        other.pairing.host, other.pairing.port, agent.pairing.fingerprint, agent.pairing.api_key
    )
    try:
        other.start()
        refused_live = cli("restore", str(archive), "--config", str(other.config), "--force")
        assert refused_live.returncode == 1 and "stop it first" in refused_live.stderr
        ostubs = other.stubs()
        ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
        final = list(ostubs.campaigns.WatchCampaign(ref, timeout=120))[-1]
        assert final.counts.delivered == TOTAL
        events = ostubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
        delivered_ids = [
            e.message_id for e in events if e.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED
        ]
        assert len(delivered_ids) == len(set(delivered_ids)) == TOTAL
    finally:
        other.close()
    assert_consistent(other.data_dir / "agent.db", c.id)


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path / "agent")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    result = cli("restore", str(junk), "--config", str(agent.config), "--force")
    assert result.returncode == 1 and "cannot read" in result.stderr
    assert (agent.data_dir / "agent.db").exists()  # untouched


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_a_missing_archive_or_store_is_a_clear_error(tmp_path: Path, command: str) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'data_dir = "{tmp_path / "empty"}"\n')
    result = cli(command, str(tmp_path / "none.tar.gz"), "--config", str(config))
    assert result.returncode == 1
    assert "mailfleet-agent " + command in result.stderr
