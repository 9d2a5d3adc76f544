"""``mailfleet-agent status`` of a running agent, then of a stopped one."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

from mailfleet.agent.client.localagent import free_port
from mailfleet.agent.store.events import first_seq_since
from tests.agent.builders import transactional, wait_until
from tests.peers.agent import AgentProcess, agent_command


def status(agent: AgentProcess) -> dict[str, object]:
    out = subprocess.run(
        [*agent_command(), "status", "--config", str(agent.config), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_status_shows_queue_rates_workers_and_listeners(tmp_path: Path) -> None:
    smtp_port = free_port()
    agent_process = AgentProcess(
        tmp_path / "agent",
        extra_config=(
            f'[[intake.listeners]]\naddress = "127.0.0.1"\nport = {smtp_port}\ntls = "none"\n'
            "auth_required = false\n"
        ),
    )
    agent_process.start()
    try:
        check_status(agent_process)
    finally:
        agent_process.close()


def check_status(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    for i in range(3):
        stubs.transactional.SendMessage(transactional(f"receipt-{i}", f"buyer{i}@example.com"))

    def delivered_last_minute() -> int:
        outcomes = status(agent_process)["outcomes"]
        assert isinstance(outcomes, dict)
        return int(outcomes["1m"]["delivered"])

    wait_until(lambda: delivered_last_minute() == 3, 30, "three deliveries in the status")
    live = status(agent_process)
    assert live["workers"] and live["worker_restarts"] == 0 and live["in_flight"] == 0
    assert live["queue"] == {
        f"{s}/{lane}": 0
        for s in ("queued", "in_flight", "deferred")
        for lane in ("transactional", "bulk")
    }
    listeners = live["listeners"]
    assert isinstance(listeners, dict) and all(listeners.values())
    assert [name.split()[0] for name in listeners] == ["gRPC", "HTTP", "SMTP"]
    text = subprocess.run(
        [*agent_command(), "status", "--config", str(agent_process.config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "last 1m: delivered 3" in text and "DOWN" not in text

    agent_process.terminate()
    stopped = status(agent_process)
    assert stopped["workers"] is None
    listeners = stopped["listeners"]
    assert isinstance(listeners, dict) and not any(listeners.values())
    assert isinstance(stopped["outcomes"], dict) and stopped["outcomes"]["1h"]["delivered"] == 3


def test_the_first_event_of_a_window_is_found_by_binary_search() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, time REAL)")
    now = time.time()
    # Gaps in seq, as retention leaves them.
    conn.executemany(
        "INSERT INTO events VALUES (?, ?)", [(seq, now - 1000 + seq) for seq in range(50, 1001, 3)]
    )
    for since_offset in (0, 1, 60, 500, 949, 950, 999, 2000):
        since = now - 1000 + since_offset
        expected = conn.execute(
            "SELECT coalesce(min(seq), (SELECT max(seq) + 1 FROM events)) FROM events"
            " WHERE time >= ?",
            (since,),
        ).fetchone()[0]
        assert first_seq_since(conn, since) == expected, since_offset
