"""ESP routes inside a real agent: rules send mail to a provider stand-in; the provider's id
lands on the delivered event; a 429 defers and the message goes later, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfleet.v1 import events_pb2, messages_pb2, routing_pb2
from tests.agent.builders import transactional, wait_until
from tests.peers.agent import AgentProcess
from tests.peers.esp import ProviderStandIn, Scripted

KEY = "mg-key-abcdef0123456789"


@pytest.fixture
def mailgun() -> Iterator[ProviderStandIn]:
    with ProviderStandIn("mailgun", KEY) as s:
        yield s


@pytest.fixture
def agent(tmp_path: Path, mailgun: ProviderStandIn) -> Iterator[AgentProcess]:
    config = (
        "[delivery]\nworkers = 1\nretry_base_seconds = 0.5\nretry_max_seconds = 1\n\n"
        '[routes.capture]\ntype = "capture"\n\n'
        f'[routes.mailgun]\ntype = "mailgun"\napi_key_file = "mailgun.key"\n'
        f'domain = "mg.shop.example"\nbase_url = "{mailgun.url}"\nretry_backoff_seconds = 0.05\n\n'
        '[[routing.rules]]\nname = "receipts"\nlane = "transactional"\nroute = "mailgun"\n'
    )
    proc = AgentProcess(tmp_path / "agent", extra_config=config)
    key_file = proc.data_dir / "mailgun.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    try:
        proc.start()
        yield proc
    finally:
        proc.close()


def test_transactional_mail_goes_through_mailgun_with_its_id_on_the_event(
    agent: AgentProcess, mailgun: ProviderStandIn
) -> None:
    stubs = agent.stubs()
    [route] = [
        r
        for r in stubs.routing.ListRoutes(routing_pb2.ListRoutesRequest()).routes
        if r.name == "mailgun"
    ]
    assert route.type == "mailgun" and route.has_secret
    assert route.settings["domain"] == "mg.shop.example" and "api_key_file" not in route.settings

    mailgun.script(Scripted(429, {"message": "Too many requests"}, {"Retry-After": "1"}))
    sent = stubs.transactional.SendMessage(transactional("r1", "buyer@example.com"))

    def state() -> messages_pb2.Message:
        return stubs.messages.GetMessage(messages_pb2.GetMessageRequest(message_id=sent.message_id))

    wait_until(lambda: state().state == messages_pb2.MESSAGE_STATE_DELIVERED, 30, "delivery")
    assert len(mailgun.requests) == 2 and len(mailgun.accepted) == 1
    [accepted] = mailgun.accepted
    assert accepted.form["to"] == b"buyer@example.com"
    assert accepted.form["v:mailfleet_message_id"] == str(sent.message_id).encode()
    # The message goes as rendered (Mailgun takes raw MIME).
    assert b"Subject: Order 1234" in accepted.form["message"]
    events = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=100)).events
    deferred = [e for e in events if e.type == events_pb2.EVENT_TYPE_MESSAGE_DEFERRED]
    delivered = [e for e in events if e.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED]
    assert [e.attrs["reply"][:3] for e in deferred] == ["429"]
    [event] = delivered
    assert event.attrs["route"] == "mailgun"
    assert event.attrs["remote_id"].endswith("@mg.shop.example")
    assert KEY not in agent.log()
