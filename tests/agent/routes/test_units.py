"""Reply classification, the capture route and building routes from settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.routes.base import OutcomeKind, RouteConfigError
from mailfleet.agent.routes.capture import Capture
from mailfleet.agent.routes.direct_mx import DirectMx
from mailfleet.agent.routes.settings import CaptureRoute, DirectMxRoute, SmtpRelayRoute
from mailfleet.agent.routes.smtp.mx import nameserver, order_mx
from mailfleet.agent.routes.smtp.replies import enhanced_code, from_reply
from mailfleet.agent.routes.smtp_relay import SmtpRelay
from mailfleet.agent.routing.build import build_routes
from tests.agent.routes.conftest import envelope


@pytest.mark.parametrize(
    ("code", "text", "kind", "enhanced"),
    [
        (250, "2.0.0 Ok: queued as 4F2", OutcomeKind.DELIVERED, "2.0.0"),
        (250, "Ok", OutcomeKind.DELIVERED, ""),
        (451, "4.7.1 Greylisted, try later", OutcomeKind.DEFERRED, "4.7.1"),
        (421, "Service not available", OutcomeKind.DEFERRED, ""),
        (550, "5.1.1 No such user", OutcomeKind.BOUNCED, "5.1.1"),
        (556, "5.1.10 null MX", OutcomeKind.BOUNCED, "5.1.10"),
        (554, "4.2.2 inconsistent class", OutcomeKind.BOUNCED, ""),
        (552, "5.3.4\nMessage too big", OutcomeKind.BOUNCED, "5.3.4"),
    ],
)
def test_replies_are_classified_by_class_with_their_enhanced_code(
    code: int, text: str, kind: OutcomeKind, enhanced: str
) -> None:
    outcome = from_reply(7, code, text, "mx.example.test")
    assert (outcome.kind, outcome.enhanced, outcome.host) == (kind, enhanced, "mx.example.test")
    assert outcome.reply.startswith(str(code)) and "\n" not in outcome.reply


def test_enhanced_code_needs_a_whole_code_at_the_start() -> None:
    assert enhanced_code(550, "5.1.1") == "5.1.1"
    assert enhanced_code(550, "see 5.1.1") == ""
    assert enhanced_code(550, "5.1.1000 nope") == ""


async def test_capture_delivers_nothing_and_returns_the_bytes() -> None:
    batch = [envelope(1), envelope(2)]
    outcomes = await Capture().deliver(batch)
    assert [(o.message_id, o.kind, o.reply, o.host) for o in outcomes] == [
        (1, OutcomeKind.DELIVERED, "250 captured", "capture"),
        (2, OutcomeKind.DELIVERED, "250 captured", "capture"),
    ]
    assert [o.captured for o in outcomes] == [e.data for e in batch]


def test_mx_order_is_by_preference_with_ties_shuffled() -> None:
    records = [(20, "c"), (10, "a"), (10, "b"), (30, "d")]
    orders = {tuple(h.name for h in order_mx(records)) for _ in range(200)}
    assert orders == {("a", "b", "c", "d"), ("b", "a", "c", "d")}


def test_resolver_addresses_take_an_optional_port() -> None:
    assert (nameserver("127.0.0.1:5353").address, nameserver("127.0.0.1:5353").port) == (
        "127.0.0.1",
        5353,
    )
    assert nameserver("192.0.2.1").port == 53


def _settings(tmp_path: Path, **routes: object) -> AgentSettings:
    return AgentSettings(data_dir=tmp_path, routes=routes)


def test_build_routes_makes_each_kind(tmp_path: Path) -> None:
    secret = tmp_path / "relay.pass"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    relay = SmtpRelayRoute(host="relay.test", username="u", password_file="relay.pass")
    routes = build_routes(
        _settings(tmp_path, capture=CaptureRoute(), relay=relay, mx=DirectMxRoute())
    )
    assert isinstance(routes["capture"], Capture)
    assert isinstance(routes["relay"], SmtpRelay)
    assert isinstance(routes["mx"], DirectMx)
    assert [r.name for r in routes.values()] == ["capture", "relay", "mx"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_password_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    secret = tmp_path / "relay.pass"
    secret.write_text("s3cret\n")
    secret.chmod(mode)
    relay = SmtpRelayRoute(host="relay.test", username="u", password_file="relay.pass")
    with pytest.raises(
        RouteConfigError, match=r"route relay: .*readable by others.*chmod 600"
    ) as info:
        build_routes(_settings(tmp_path, relay=relay))
    assert "s3cret" not in str(info.value)


def test_a_missing_password_file_is_a_clear_error(tmp_path: Path) -> None:
    relay = SmtpRelayRoute(host="relay.test", username="u", password_file="nope.pass")
    with pytest.raises(RouteConfigError, match="cannot read password file"):
        build_routes(_settings(tmp_path, relay=relay))


@pytest.mark.parametrize("helo", ["two words", "bad\r\nname"])
def test_a_malformed_helo_name_is_refused_when_routes_are_built(tmp_path: Path, helo: str) -> None:
    for config in (SmtpRelayRoute(host="relay.test", helo=helo), DirectMxRoute(helo=helo)):
        with pytest.raises(RouteConfigError, match="HELO name"):
            build_routes(_settings(tmp_path, route=config))
