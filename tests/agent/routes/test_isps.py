"""The shipped per-ISP shaping: every figure has a source, the MX rollups hold per provider
(the operator's settings first), and the documented throttling replies are recognised."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest
from pydantic import ValidationError

from mailfleet.agent.routes import isps
from mailfleet.agent.routes.direct_mx import DirectMx
from mailfleet.agent.routes.settings import DestinationLimits, DirectMxRoute, LimitsSettings
from mailfleet.agent.routes.shaping import destination
from tests.agent.routes.conftest import SinkFactory, envelope
from tests.peers.dns import LocalDns
from tests.peers.smtp import free_port

LIMITS = ("connections", "messages_per_connection", "per_minute")
ISPS = {"gmail", "microsoft", "yahoo", "apple", "gmx_webde", "orange", "mailru"}


def test_every_shipped_figure_names_its_source() -> None:
    text = resources.files("mailfleet.agent.routes").joinpath("isp_defaults.toml").read_text()
    table = tomllib.loads(text)
    assert set(table) == ISPS == set(isps.shipped())
    for key, entry in table.items():
        figures = {
            k for k in ("connections", "messages_per_connection", "per_minute") if k in entry
        }
        assert figures, key
        assert set(entry["sources"]) == figures | {"mx"}, key
        assert all(len(source) > 20 for source in entry["sources"].values()), key
        for rule in entry.get("throttling", []):
            assert rule["source"] and rule["duration_source"], (key, rule["code"])


def test_google_hosted_domains_share_gmails_limits_after_the_operators_own() -> None:
    limits = LimitsSettings(
        default=DestinationLimits(connections=20, messages_per_connection=100),
        domains={"special.example": DestinationLimits(connections=3)},
        rollups={"*.bigmail.test": DestinationLimits(connections=7)},
        isps={"microsoft": {"connections": 2}},
    )
    gmail = destination("gmail.com", ["gmail-smtp-in.l.google.com"], limits)
    workspace = destination("startup.io", ["alt1.aspmx.l.googlemail.com"], limits)
    assert gmail == workspace
    assert gmail[0] == "isp:gmail"
    assert (gmail[1].connections, gmail[1].messages_per_connection) == (5, 50)
    assert destination("special.example", ["aspmx.l.google.com"], limits)[0] == "special.example"
    assert destination("x.test", ["mx.bigmail.test"], limits)[0] == "rollup:*.bigmail.test"
    office = destination("corp.example", ["corp-example.mail.protection.outlook.com"], limits)
    assert (office[0], office[1].connections) == ("isp:microsoft", 2)
    # A figure Orange publishes none for is the operator's default.
    orange = destination("orange.fr", ["smtp-in.orange.fr"], limits)
    assert (orange[1].connections, orange[1].messages_per_connection) == (3, 100)
    off = limits.model_copy(update={"isp_defaults": False})
    assert destination("gmail.com", ["gmail-smtp-in.l.google.com"], off) == (
        "gmail.com",
        off.default,
    )
    assert isps.throttling(off) == ()


def test_an_unknown_isp_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"no shipped ISP named 'hotmail'.*gmail"):
        LimitsSettings(isps={"hotmail": {"connections": 1}})


@pytest.mark.parametrize(
    ("reply", "isp"),
    [
        ("421 4.7.28 [192.0.2.5] Our system has detected an unusual rate of mail", "Gmail"),
        ("451 4.7.650 The mail server [192.0.2.5] has been temporarily rate limited", "Microsoft"),
        ("421 4.7.0 [TSS04] Messages from 192.0.2.5 temporarily deferred", "Yahoo/AOL"),
        ("421 [HCM1] Your mail from 192.0.2.5 was deferred.", "Apple iCloud"),
        ("421 4.7.0 Try again later, closing connection", None),
        ("451 4.3.0 Mailbox temporarily unavailable", None),
        ("550 5.7.28 [192.0.2.5] The IP you're using to send mail is not authorized", None),
    ],
)  # fmt: skip
def test_the_documented_throttling_replies_are_recognised(reply: str, isp: str | None) -> None:
    found = isps.throttled_by(reply, isps.throttling(LimitsSettings()))
    assert (found.isp if found else None) == isp


def test_operator_suspend_seconds_replace_the_shipped_length() -> None:
    limits = LimitsSettings(isps={"gmail": {"suspend_seconds": 5}})
    by_isp = {t.isp: t.seconds for t in isps.throttling(limits)}
    assert by_isp["Gmail"] == 5 and by_isp["Microsoft"] == 1800 and by_isp["Yahoo/AOL"] == 7200


async def test_two_google_hosted_domains_share_one_connection(
    local_dns: LocalDns, make_sink: SinkFactory
) -> None:
    port = free_port()
    google = make_sink(host="127.0.0.2", port=port)
    local_dns.add("gmail.test", "MX", "5 gmail-smtp-in.l.google.com.")
    local_dns.add("startup.test", "MX", "1 aspmx.l.google.com.")
    local_dns.add("gmail-smtp-in.l.google.com", "A", "127.0.0.2")
    local_dns.add("aspmx.l.google.com", "A", "127.0.0.2")
    limits = LimitsSettings(
        default=DestinationLimits(connections=4), isps={"gmail": {"connections": 1}}
    )
    settings = DirectMxRoute(
        resolvers=[f"127.0.0.1:{local_dns.port}"], port=port, tls="none", timeout_seconds=3.0
    )
    mx = DirectMx("mx", settings, limits, helo="agent.test")
    batch = [envelope(i, f"u{i}@{('gmail.test', 'startup.test')[i % 2]}") for i in range(16)]
    outcomes = await mx.deliver(batch)
    await mx.close()
    assert len(outcomes) == 16 and google.count == 16
    # Two domains at four connections each would open eight; Gmail's rollup allows one here.
    assert google.max_concurrent == 1
