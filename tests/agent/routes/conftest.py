"""Fixtures for route tests: SMTP sinks on loopback and envelopes to send into them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailfleet.agent.routes.base import Envelope
from mailfleet.agent.routes.settings import DestinationLimits, SmtpRelayRoute
from tests.peers.smtp import SmtpSink

SinkFactory = Callable[..., SmtpSink]


@pytest.fixture
def make_sink() -> Iterator[SinkFactory]:
    """Start sinks on demand (``make_sink(tls="starttls", ...)``); all stopped afterwards."""
    sinks: list[SmtpSink] = []

    def make(**kwargs: Any) -> SmtpSink:
        sink = SmtpSink(**kwargs).start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


def envelope(message_id: int, rcpt_to: str = "", mail_from: str = "bounce@sender.test") -> Envelope:
    """A small complete message to ``rcpt_to`` (default ``user<id>@example.test``)."""
    rcpt_to = rcpt_to or f"user{message_id}@example.test"
    data = (
        f"From: <{mail_from}>\r\nTo: <{rcpt_to}>\r\nSubject: test {message_id}\r\n"
        f"Message-ID: <{message_id}@sender.test>\r\n\r\nHello {message_id}.\r\n.dot line\r\n"
    ).encode()
    return Envelope(message_id, mail_from, rcpt_to, data)


def relay_settings(sink: SmtpSink, **overrides: Any) -> SmtpRelayRoute:
    """Relay settings pointing at ``sink``: plain SMTP, short timeout, unless overridden."""
    values: dict[str, Any] = {
        "host": sink.host,
        "port": sink.port,
        "tls": "none",
        "timeout_seconds": 5.0,
        "limits": DestinationLimits(connections=4, messages_per_connection=100),
    }
    values.update(overrides)
    return SmtpRelayRoute(**values)
