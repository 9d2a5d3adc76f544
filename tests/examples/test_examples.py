"""The scripts in examples/ run against a real agent (its capture route: nothing leaves)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import aiohttp

from mailfleet.agent.identity.pairing import Pairing
from mailfleet.v1 import automations_pb2, messages_pb2, signups_pb2
from tests.agent.builders import relay_config
from tests.agent.signup.helpers import changes, confirmation_link, form_definition, post
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink, defer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(pairing: Pairing, name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env={**os.environ, "MAILFLEET_PAIRING": str(pairing)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_the_examples_send_run_a_campaign_and_follow_events(
    agent_process: AgentProcess, tmp_path: Path
) -> None:
    p = agent_process.pairing
    first = example(p, "send_transactional.py", "buyer@example.com", "--order", "7", cwd=tmp_path)
    assert first.stdout.startswith("message ") and first.stdout.strip().endswith(" queued")
    again = example(p, "send_transactional.py", "buyer@example.com", "--order", "7", cwd=tmp_path)
    assert again.stdout.split()[1] == first.stdout.split()[1]
    assert "already queued" in again.stdout

    people = tmp_path / "people.csv"
    people.write_text(
        "email,first_name\n"
        + "".join(f"p{i}@example.com,Person{i}\n" for i in range(5))
        + "not-an-address,Broken\n"
    )
    run = example(p, "campaign_from_csv.py", str(people), cwd=tmp_path)
    assert "5 of 6 recipients" in run.stdout
    assert "row 6 <not-an-address> refused" in run.stdout
    assert run.stdout.strip().endswith("completed: 5 delivered, 0 bounced, 0 failed")

    cursor = tmp_path / "events.seq"
    seen = example(p, "follow_events.py", "--once", "--cursor", str(cursor), cwd=tmp_path)
    lines = seen.stdout.splitlines()
    assert sum(" message_delivered " in line for line in lines) == 6
    assert cursor.read_text() == lines[-1].split()[0]
    nothing_new = example(p, "follow_events.py", "--once", "--cursor", str(cursor), cwd=tmp_path)
    assert nothing_new.stdout == ""

    # Following: a message sent while it runs shows up.
    follower = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "follow_events.py"), "--cursor", str(cursor)],
        env={**os.environ, "MAILFLEET_PAIRING": str(p)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        example(p, "send_transactional.py", "late@example.com", "--order", "8", cwd=tmp_path)
        deadline = time.monotonic() + 30
        assert follower.stdout is not None
        while time.monotonic() < deadline:
            line = follower.stdout.readline()
            if "message_delivered late@example.com" in line:
                break
        else:
            raise AssertionError("the follower never printed the new delivery")
    finally:
        follower.terminate()
        follower.wait(10)


def test_following_events_outlives_an_agent_restart(
    agent_process: AgentProcess, tmp_path: Path
) -> None:
    p = agent_process.pairing
    cursor = tmp_path / "events.seq"
    example(p, "send_transactional.py", "early@example.com", "--order", "1", cwd=tmp_path)
    follower = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "follow_events.py"), "--cursor", str(cursor)],
        env={**os.environ, "MAILFLEET_PAIRING": str(p)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None and follower.stderr is not None
        _read_until(follower.stdout, "message_delivered early@example.com")
        assert agent_process.terminate() == 0
        # Away: the follower says so on stderr, once per try, and keeps going.
        assert "the agent is unreachable" in follower.stderr.readline()
        assert follower.poll() is None
        agent_process.start()
        example(p, "send_transactional.py", "late@example.com", "--order", "2", cwd=tmp_path)
        lines = _read_until(follower.stdout, "message_delivered late@example.com")
    finally:
        follower.terminate()
        follower.wait(10)
    # Resumed after its last event: nothing of the first message seen twice.
    assert not any("early@example.com" in line for line in lines)


def test_a_campaign_with_only_deferrals_left_ends_the_wait(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        sink.rule("p1@example.com", defer())
        agent = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
        agent.start()
        try:
            people = tmp_path / "people.csv"
            people.write_text(
                "email,first_name\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(3))
            )
            run = example(agent.pairing, "campaign_from_csv.py", str(people), cwd=tmp_path)
        finally:
            agent.close()
    assert run.stdout.strip().splitlines()[-1] == (
        "2 delivered, 0 bounced, 0 failed; 1 deferred, which the agent keeps retrying"
        " (follow them with follow_events.py)"
    )


async def test_the_subscribe_example_signs_up_once_per_key(
    agent_process: AgentProcess, tmp_path: Path
) -> None:
    stubs = agent_process.stubs()
    stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("shop-form")))
    p = agent_process.pairing
    args = ("eva@shop.example", "--form", "shop-form", "--field", "first_name=Eva")
    first = example(
        p, "subscribe.py", *args, "--key", "order-7", "--ip", "198.51.100.4", cwd=tmp_path
    )
    made, status = first.stdout.splitlines()
    assert made.endswith(" of eva@shop.example made, lists news, sale")
    assert status == "pending: a confirmation mail was sent"
    (signed_up,) = changes(stubs)
    assert made.split()[1] == str(signed_up.signup.signup_id)
    assert signed_up.signup.fields["first_name"] == "Eva"
    assert signed_up.signup.consent.ip == "198.51.100.4"

    again = example(p, "subscribe.py", *args, "--key", "order-7", cwd=tmp_path)
    assert again.stdout == first.stdout.replace(" made,", " already made,")
    assert changes(stubs) == [signed_up]  # nothing new stored ...
    mails = stubs.messages.ListMessages(messages_pb2.ListMessagesRequest()).messages
    assert [m.email for m in mails] == ["eva@shop.example"]  # ... and no second mail queued
    link = confirmation_link(stubs, "eva@shop.example")
    async with aiohttp.ClientSession() as browser:
        assert (await post(browser, link)).status == 200
    confirmed = example(p, "subscribe.py", *args, "--key", "order-7", cwd=tmp_path)
    assert confirmed.stdout.splitlines()[1] == "subscribed"

    single = example(
        p,
        "subscribe.py",
        "finn@shop.example",
        "--form",
        "shop-form",
        "--field",
        "first_name=Finn",
        "--list",
        "sale",
        "--skip-confirmation",
        cwd=tmp_path,
    )
    assert single.stdout.splitlines() == [
        f"signup {changes(stubs)[-1].signup.signup_id} of finn@shop.example made, lists sale",
        "subscribed",
    ]
    assert changes(stubs)[-1].kind == signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED


async def test_the_audience_example_shows_updates_and_unsubscribes(
    agent_process: AgentProcess, tmp_path: Path
) -> None:
    stubs = agent_process.stubs()
    stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("crm-form")))
    p = agent_process.pairing
    person = "ida@shop.example"
    assert example(p, "audience.py", "status", person, cwd=tmp_path).stdout == (
        f"{person}: unknown to this agent\n"
    )
    example(p, "subscribe.py", person, "--form", "crm-form", "--field", "first_name=Ida",
            "--skip-confirmation", cwd=tmp_path)  # fmt: skip
    after = changes(stubs)[-1].seq
    update = ("update", person, "--field", "first_name=Idabel", "--key", "crm-1")
    assert example(p, "audience.py", *update, cwd=tmp_path).stdout.splitlines() == [
        f"{person}: subscribed",
        "  lists: news, sale",
        "  first_name = Idabel",
    ]
    again = example(p, "audience.py", *update, cwd=tmp_path).stdout.splitlines()
    assert again[0] == "already done with key crm-1: nothing changed"
    leave = ("unsubscribe", person, "--list", "sale", "--key", "leave-1")
    assert example(p, "audience.py", *leave, cwd=tmp_path).stdout.splitlines()[:3] == [
        f"{person}: subscribed",
        "  lists: news",
        "  left: sale",
    ]
    assert [(c.kind, c.email) for c in changes(stubs, after)] == [
        (signups_pb2.SIGNUP_CHANGE_KIND_FIELDS_UPDATED, person),
        (signups_pb2.SIGNUP_CHANGE_KIND_UNSUBSCRIBED, person),
    ]


def test_the_order_placed_example_enrols_a_customer_once_per_order(
    agent_process: AgentProcess, tmp_path: Path
) -> None:
    stubs = agent_process.stubs()
    rules = {
        "trigger": {"kind": "event", "name": "order_placed"},
        "steps": [
            {
                "kind": "send",
                "from_address": "shop@shop.example",
                "subject": "Thank you for order {{ order_id }}",
                "text": "Total: {{ total }}",
            }
        ],
    }
    stubs.automations.PutAutomation(
        automations_pb2.PutAutomationRequest(name="after-order", definition_json=json.dumps(rules))
    )
    stubs.automations.ActivateAutomation(automations_pb2.AutomationRef(name="after-order"))
    p = agent_process.pairing
    args = ("eva@shop.example", "--order", "1042", "--field", "total=59.90")
    first = example(p, "order_placed.py", *args, cwd=tmp_path)
    assert first.stdout == "order 1042: eva@shop.example entered 1 automation\n"
    again = example(p, "order_placed.py", *args, cwd=tmp_path)
    assert again.stdout == "order 1042: eva@shop.example entered 0 automations\n"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mails = stubs.messages.ListMessages(messages_pb2.ListMessagesRequest()).messages
        if mails:
            break
        time.sleep(0.1)
    assert [m.email for m in mails] == ["eva@shop.example"]


def _read_until(stream: IO[str], wanted: str, timeout: float = 60) -> list[str]:
    """Lines read from ``stream`` up to the one holding ``wanted``."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = stream.readline()
        lines.append(line)
        if wanted in line:
            return lines
    raise AssertionError(f"never saw {wanted!r}: {lines}")
