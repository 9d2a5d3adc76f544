"""Automations on a real agent delivering to a real SMTP sink, its clock moved by the test
(MAILFLEET_TEST_CLOCK: seconds ahead of the real time)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from mailfleet.v1 import automations_pb2, messages_pb2, signups_pb2
from tests.agent.automations.peers import moved_clock, subjects
from tests.agent.automations.rules import DAY, send, welcome_series
from tests.agent.builders import relay_config, wait_until
from tests.agent.signup.helpers import confirmation_link, form_definition, post
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import Received, SmtpSink

_PIXEL = re.compile(r"/o/[A-Za-z0-9_.=-]+")


def _pixel(received: Received) -> str:
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    body = parsed.get_body(("html",))
    assert body is not None
    match = _PIXEL.search(body.get_content())
    assert match is not None
    return match.group(0)


def _activate(stubs: Stubs, name: str, definition: str) -> None:
    stubs.automations.PutAutomation(
        automations_pb2.PutAutomationRequest(name=name, definition_json=definition)
    )
    stubs.automations.ActivateAutomation(automations_pb2.AutomationRef(name=name))


def _event(stubs: Stubs, email_: str, key: str, name: str = "joined") -> int:
    reply = stubs.automations.SendEvent(
        automations_pb2.SendEventRequest(name=name, email=email_, idempotency_key=key)
    )
    return reply.enrolled


@pytest.fixture
def clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the agent reads its automations' offset from, at 0 (the real time)."""
    return moved_clock(tmp_path, monkeypatch)


def test_a_welcome_series_delivers_the_right_mail_to_the_right_contacts(
    agent_factory: Callable[[str], AgentProcess], clock: Path
) -> None:
    steps = json.loads(welcome_series({"kind": "event", "name": "joined"}))
    steps["steps"][0] = send("Welcome", html="<p>Welcome aboard</p>")
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        _activate(stubs, "welcome", json.dumps(steps))
        assert _event(stubs, "opener@example.com", "a") == 1
        assert _event(stubs, "quiet@example.com", "b") == 1
        wait_until(lambda: len(sink.received) == 2, 30, "the welcome mails")
        assert _event(stubs, "opener@example.com", "c") == 0  # a contact enters once
        opener = next(r for r in sink.received if r.rcpt_to[0] == "opener@example.com")
        status, _ = agent.http_get(_pixel(opener))
        assert status == 200
        clock.write_text(str(2 * DAY + 60))
        wait_until(lambda: len(sink.received) == 4, 30, "the mails after two days")
        assert sorted(subjects(sink)[2:]) == [
            ("opener@example.com", "A tip for you"),
            ("quiet@example.com", "Did you see our welcome?"),
        ]
        stats = stubs.automations.GetStepStats(automations_pb2.GetStepStatsRequest(name="welcome"))
        counts = [(s.kind, s.entered, s.sent, s.opened, s.exited) for s in stats.steps]
        assert counts == [
            ("send", 2, 2, 1, 0),
            ("wait", 2, 0, 0, 0),
            ("branch", 2, 0, 0, 0),
            ("send", 1, 1, 0, 0),
            ("exit", 1, 0, 0, 1),
            ("send", 1, 1, 0, 1),
        ]


def test_a_date_trigger_fires_once_a_year_per_contact(
    agent_factory: Callable[[str], AgentProcess], clock: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    birthday = today.replace(year=1990) if (today.month, today.day) != (2, 29) else today
    rules = {
        "trigger": {"kind": "date", "field": "birthday"},
        "steps": [send("Happy birthday")],
    }
    with SmtpSink() as sink:
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        stubs.automations.PutContact(
            automations_pb2.PutContactRequest(
                email="eva@example.com", fields={"birthday": birthday.isoformat()}
            )
        )
        _activate(stubs, "birthday", json.dumps(rules))
        wait_until(lambda: len(sink.received) == 1, 30, "this year's birthday mail")
        clock.write_text(str((_a_year_on(today) - today).days * DAY))
        wait_until(lambda: len(sink.received) == 2, 30, "next year's birthday mail")
        assert subjects(sink) == [("eva@example.com", "Happy birthday")] * 2


def _a_year_on(today: dt.date) -> dt.date:
    """The same day next year (28 February for a 29th)."""
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    return dt.date(today.year + 1, today.month, day)


async def test_a_confirmed_signup_to_a_list_enters_its_welcome_series(
    agent_process: AgentProcess,
) -> None:
    stubs = agent_process.stubs()
    stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("news-form")))
    _activate(stubs, "welcome", welcome_series({"kind": "signup", "lists": ["news"]}))
    done = stubs.signups.Subscribe(
        signups_pb2.SubscribeRequest(
            idempotency_key="s1",
            form_id="news-form",
            email="eva@example.com",
            fields={"first_name": "Eva"},
        )
    )
    assert done.signup.status == signups_pb2.SIGNUP_STATUS_PENDING

    def welcomed() -> list[str]:
        listed = stubs.messages.ListMessages(messages_pb2.ListMessagesRequest()).messages
        return [m.email for m in listed][1:]  # after the confirmation mail

    link = confirmation_link(stubs, "eva@example.com")
    assert welcomed() == []  # not before the confirmation
    async with aiohttp.ClientSession() as browser:
        assert (await post(browser, link)).status == 200
    wait_until(lambda: welcomed() == ["eva@example.com"], 30, "the welcome mail")
    single = signups_pb2.SubscribeRequest(
        idempotency_key="s2",
        form_id="news-form",
        email="finn@example.com",
        fields={"first_name": "Finn"},
        skip_confirmation=True,  # stored confirmed: enters at once
    )
    assert stubs.signups.Subscribe(single).signup.status == signups_pb2.SIGNUP_STATUS_CONFIRMED
    wait_until(lambda: welcomed() == ["eva@example.com", "finn@example.com"], 30, "Finn's welcome")
    stats = stubs.automations.GetStepStats(automations_pb2.GetStepStatsRequest(name="welcome"))
    assert (stats.steps[0].entered, stats.steps[0].sent) == (2, 2)


def _queued_to(stubs: Stubs) -> Counter[str]:
    """How many messages the agent queued to each address, over every page."""
    counts: Counter[str] = Counter()
    after = 0
    while True:
        page = stubs.messages.ListMessages(
            messages_pb2.ListMessagesRequest(after_id=after, limit=1000)
        ).messages
        if not page:
            return counts
        counts.update(m.email for m in page)
        after = page[-1].id


def test_kill_9_during_sends_and_during_a_wait_runs_each_step_once_per_contact(
    agent_factory: Callable[[str], AgentProcess], clock: Path
) -> None:
    people = [f"p{i}@example.com" for i in range(60)]
    rules = {
        "trigger": {"kind": "event", "name": "joined"},
        "steps": [send("Welcome"), {"kind": "wait", "seconds": 2 * DAY}, send("Second")],
    }
    with SmtpSink(reply_delay=0.01) as sink:  # slow enough that the kill lands mid-delivery
        agent = agent_factory(relay_config(sink))
        stubs = agent.stubs()
        _activate(stubs, "series", json.dumps(rules))
        for i, person in enumerate(people):
            assert _event(stubs, person, f"k{i}") == 1
        wait_until(lambda: len(sink.received) >= 5, 60, "the first welcome mails")
        agent.kill()  # while the welcome mails go out
        agent.start()
        stubs = agent.stubs()

        def got(subject: str) -> set[str]:
            return {to for to, s in subjects(sink) if s == subject}

        wait_until(lambda: got("Welcome") == set(people), 60, "every welcome mail")
        assert got("Second") == set()
        agent.kill()  # while everyone waits
        agent.start()
        stubs = agent.stubs()
        clock.write_text(str(2 * DAY + 60))
        wait_until(lambda: got("Second") == set(people), 60, "every second mail")
        # Each step queued one message per contact, whatever was killed when.
        assert _queued_to(stubs) == dict.fromkeys(people, 2)
        stats = stubs.automations.GetStepStats(automations_pb2.GetStepStatsRequest(name="series"))
        assert [(s.entered, s.sent) for s in stats.steps] == [(60, 60), (60, 0), (60, 60)]
