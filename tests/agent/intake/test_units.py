"""The intake's pure parts: the guard, the rate, message checks, passwords, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mailfleet.agent.identity import passwords
from mailfleet.agent.intake.guard import AuthGuard, ConnectionCounter, RateLimiter
from mailfleet.agent.intake.message import (
    Choices,
    Refusal,
    check_framing,
    from_domains,
    split_header,
    take_controls,
)
from mailfleet.agent.intake.settings import IntakeSettings, ListenerSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_guard_counts_within_the_window_and_cools_down() -> None:
    clock = Clock()
    guard = AuthGuard(5, window_seconds=600, cooldown_seconds=300, clock=clock)
    for _ in range(4):
        guard.failed("10.0.0.1", "u")
        clock.now += 200  # spread out: older failures leave the window
    assert not guard.refused("10.0.0.1", "u")
    for _ in range(5):
        guard.failed("10.0.0.2", "v")
    assert guard.refused("10.0.0.2", "someone")  # the address
    assert guard.refused("10.0.0.3", "v")  # the user, from an address it never used
    clock.now += 301
    assert not guard.refused("10.0.0.2", "v")


def test_guard_lets_a_locked_user_in_from_its_known_address() -> None:
    guard = AuthGuard(2, 600, 600, clock=Clock())
    guard.succeeded("10.0.0.1", "u")
    guard.failed("10.0.0.9", "u")
    guard.failed("10.0.0.8", "u")
    assert guard.refused("10.0.0.7", "u")
    assert not guard.refused("10.0.0.1", "u")


def test_rate_limiter_refills_over_time() -> None:
    clock = Clock()
    rate = RateLimiter(2, clock=clock)
    assert rate.take("u") and rate.take("u") and not rate.take("u")
    assert rate.take("other")
    clock.now += 30  # one token per 30 s at 2 per minute
    assert rate.take("u") and not rate.take("u")
    assert all(RateLimiter(0).take("u") for _ in range(1000))


def test_connection_counter_caps_total_and_per_address() -> None:
    counter = ConnectionCounter(max_total=3, max_per_ip=2)
    assert counter.admit("a") is None and counter.admit("a") is None
    assert "your address" in (counter.admit("a") or "")
    assert counter.admit("b") is None
    assert "Too many connections;" in (counter.admit("c") or "")
    counter.release("a")
    assert counter.admit("c") is None and counter.total == 3


@pytest.mark.parametrize(
    "data",
    [b"a\nb\r\n", b"a\rb\r\n", b"a\r\r\n", b"a\n\r\n", b"a\x00b\r\n", b"a\r\n\n.\n"],
)
def test_framing_refuses_bare_line_ends_and_nul(data: bytes) -> None:
    with pytest.raises(Refusal) as err:
        check_framing(data)
    assert err.value.reply.startswith("554 5.6.0")


def test_framing_accepts_crlf() -> None:
    check_framing(b"Subject: x\r\n\r\nbody\r\n\r\n")


CHOICES = Choices(frozenset({"relay", "mx", "mx2"}), {"bulk": ("mx", "mx2"), "unused": ()})


def test_controls_are_stripped_with_their_folded_lines() -> None:
    data = (
        b"From: <a@shop.example>\r\nX-Mailfleet-Tags: one,\r\n two\r\nSubject: s\r\n"
        b"x-mailfleet-campaign: Winter\r\n\r\nX-Mailfleet-Tags: in the body stays\r\n"
    )
    fields, body = split_header(data)
    kept, controls = take_controls(fields, CHOICES)
    assert b"".join(kept) == b"From: <a@shop.example>\r\nSubject: s\r\n"
    assert body == b"\r\nX-Mailfleet-Tags: in the body stays\r\n"
    assert controls.tags == ("one", "two") and controls.campaign == "Winter"


def test_a_pool_may_come_with_a_route_that_sends_from_it() -> None:
    fields, _ = split_header(b"X-Mailfleet-Pool: bulk\r\nX-Mailfleet-Route: mx2\r\n\r\n")
    kept, controls = take_controls(fields, CHOICES)
    assert kept == [] and (controls.pool, controls.route) == ("bulk", "mx2")


@pytest.mark.parametrize(
    "header",
    [
        b"X-Mailfleet-Route: nowhere\r\n",
        b"X-Mailfleet-Pool: nowhere\r\n",
        b"X-Mailfleet-Pool: unused\r\n",
        b"X-Mailfleet-Pool: bulk\r\nX-Mailfleet-Route: relay\r\n",
        b"X-Mailfleet-Other: x\r\n",
        b"X-Mailfleet-Campaign: a\r\nX-Mailfleet-Campaign: b\r\n",
        b"X-Mailfleet-Tags: " + b",".join(b"t%d" % i for i in range(51)) + b"\r\n",
        b"X-Mailfleet-Track: all\r\n",
        b"X-Mailfleet-Track: none, opens\r\n",
        b"X-Mailfleet-Track: ,\r\n",
    ],
)
def test_bad_controls_are_refused(header: bytes) -> None:
    fields, _ = split_header(b"From: <a@x.example>\r\n" + header + b"\r\nbody\r\n")
    with pytest.raises(Refusal):
        take_controls(fields, CHOICES)


@pytest.mark.parametrize(
    ("header", "opens", "clicks"),
    [
        (b"", True, True),  # tracked unless the client says otherwise
        (b"X-Mailfleet-Track: none\r\n", False, False),
        (b"X-Mailfleet-Track: Opens\r\n", True, False),
        (b"X-Mailfleet-Track: clicks\r\n", False, True),
        (b"X-Mailfleet-Track: clicks , opens\r\n", True, True),
    ],
)
def test_the_track_control_switches_tracking(header: bytes, opens: bool, clicks: bool) -> None:
    fields, _ = split_header(b"From: <a@x.example>\r\n" + header + b"\r\nbody\r\n")
    kept, controls = take_controls(fields, Choices())
    assert kept == [b"From: <a@x.example>\r\n"]
    assert (controls.tracking.opens, controls.tracking.clicks) == (opens, clicks)


def test_from_domains() -> None:
    fields, _ = split_header(b'From: "A, B" <a@Shop.Example>, c@news.shop.example\r\n\r\n')
    assert from_domains(fields) == ["shop.example", "news.shop.example"]
    for head in (b"Subject: none\r\n\r\n", b"From: a@x.example\r\nFrom: b@x.example\r\n\r\n"):
        with pytest.raises(Refusal):
            from_domains(split_header(head)[0])
    with pytest.raises(Refusal):
        from_domains(split_header(b"From: undisclosed\r\n\r\n")[0])


def test_passwords_are_salted_slow_hashes() -> None:
    first = passwords.hash_password("correct horse")
    second = passwords.hash_password("correct horse")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in first
    assert passwords.verify(b"correct horse", first)
    assert not passwords.verify(b"correct hors", first)
    assert not passwords.verify(b"anything", None)


def test_listener_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        ListenerSettings(address="0.0.0.0", port=25, tls="none")  # noqa: S104
    with pytest.raises(ValidationError, match="trusted_tenant"):
        ListenerSettings(port=2525, trusted_networks=["10.0.0.0/8"])
    with pytest.raises(ValidationError):
        ListenerSettings(port=2525, trusted_networks=["not a network"], trusted_tenant="t")
    assert IntakeSettings(bounce_domain="Bounce.Example.COM.").bounce_domain == "bounce.example.com"


def test_generated_passwords_never_begin_with_a_dash() -> None:
    made = [passwords.generate() for _ in range(2000)]
    assert len(set(made)) == 2000
    assert all(len(p) == 32 and not p.startswith("-") for p in made)
