"""Automation speed: enrolment steps an agent runs per second while a campaign sends.

BENCH_AUTOMATIONS_CONTACTS (default 10000) contacts enter an automation by an app's event
(32 callers at once) and wait a day; then the agent's automations clock
(MAILFLEET_TEST_CLOCK) moves a day on and every one of them runs its next two steps at once: a
send (its message queued through the one enqueue path, in the same transaction as the move)
and a tag. Meanwhile a capture-route campaign of BENCH_AUTOMATIONS_CAMPAIGN recipients (default
50000), throttled to 1,000 a second, is sending. The figure is steps run per second, from the
first batch of due enrolments moved on to the last (read as the count still walking falls),
checked against the store.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.bench_signup import _start_campaign
from mailfleet.agent import client
from mailfleet.agent.automations.clock import VARIABLE
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.v1 import automations_pb2, campaigns_pb2

CONTACTS = int(os.environ.get("BENCH_AUTOMATIONS_CONTACTS", "10000"))
CALLERS = 32
DAY = 86400
STEPS_AFTER_THE_WAIT = 2
RULES = {
    "trigger": {"kind": "event", "name": "joined"},
    "steps": [
        {"kind": "wait", "seconds": DAY},
        {"kind": "send", "from_address": "news@shop.example", "subject": "Hi", "text": "Hello"},
        {"kind": "tag", "action": "add", "tag": "welcomed"},
    ],
}


def _walking(stubs: AgentStubs) -> int:
    (found,) = stubs.automations.ListAutomations(
        automations_pb2.ListAutomationsRequest()
    ).automations
    return int(found.active_enrolments)


def _enrol(stubs: AgentStubs) -> None:
    def one(i: int) -> int:
        request = automations_pb2.SendEventRequest(
            name="joined", email=f"c{i}@people.example", idempotency_key=f"e{i}"
        )
        return stubs.automations.SendEvent(request).enrolled

    with ThreadPoolExecutor(CALLERS) as pool:
        if sum(pool.map(one, range(CONTACTS))) != CONTACTS:
            raise RuntimeError("not every contact was enrolled")


def _measure(stubs: AgentStubs, clock: Path) -> tuple[float, int]:
    """Move the clock a day on; return (seconds, enrolments timed) from the first batch
    moved on to the last."""
    clock.write_text(str(DAY + 60))
    while (first := _walking(stubs)) == CONTACTS:
        time.sleep(0.01)
    began = time.monotonic()
    while _walking(stubs):
        time.sleep(0.01)
    return time.monotonic() - began, first


def main() -> None:
    """Print the enrolment steps an agent runs per second while a campaign sends."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        workdir = Path(tmp)
        clock = workdir / "clock"
        clock.write_text("0")
        os.environ[VARIABLE] = str(clock)
        agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}", "")
        agent.start(workdir / "agent.log")
        try:
            with client.channel(agent.pairing) as ch:
                stubs = AgentStubs.on(ch)
                stubs.automations.PutAutomation(
                    automations_pb2.PutAutomationRequest(
                        name="bench", definition_json=json.dumps(RULES)
                    )
                )
                stubs.automations.ActivateAutomation(automations_pb2.AutomationRef(name="bench"))
                began = time.monotonic()
                _enrol(stubs)
                entering = time.monotonic() - began
                ref = _start_campaign(stubs)
                elapsed, timed = _measure(stubs, clock)
                sending = (
                    stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_RUNNING
                )
            db = sqlite3.connect(f"file:{workdir / 'agent' / 'agent.db'}?mode=ro", uri=True)
            ran = db.execute("SELECT count(*) FROM enrolment_steps WHERE step > 0").fetchone()[0]
            db.close()
            if ran != CONTACTS * STEPS_AFTER_THE_WAIT:
                raise RuntimeError(f"{ran} steps run of {CONTACTS * STEPS_AFTER_THE_WAIT}")
        finally:
            agent.stop()
            del os.environ[VARIABLE]
    beside = "while a campaign sends" if sending else "(the campaign had ended first)"
    print(f"automations, {CONTACTS:,} contacts entered by events: {CONTACTS / entering:,.0f}/s")
    print(
        f"automations, {CONTACTS:,} due at once {beside}: "
        f"{timed * STEPS_AFTER_THE_WAIT / elapsed:,.0f} enrolment steps/s"
        " (a send and a tag each; goal ≥ 1,000)"
    )
