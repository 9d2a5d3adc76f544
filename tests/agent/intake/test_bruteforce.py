"""Brute force: five failed AUTHs from one address or for one user start a cool-down; a user
logging in from where it always does is not locked out by someone guessing elsewhere."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.agent.intake.peer import IntakeAgent, raw
from tests.peers.smtp import SmtpSink


@pytest.fixture(scope="module")
def intake(sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntakeAgent]:
    """A fresh agent: the guard's memory is per process."""
    agent = IntakeAgent(tmp_path_factory.mktemp("brute") / "agent", sink.port)
    try:
        yield agent
    finally:
        agent.close()


def _auth(intake: IntakeAgent, user: str, password: str, source: str) -> str:
    with raw(intake.ports.submission, source=source) as c:
        assert c.cmd("EHLO client.test").startswith("250")
        assert c.cmd("STARTTLS").startswith("220")
        c.starttls(intake.client_context())
        assert c.cmd("EHLO client.test").startswith("250")
        blob = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return c.cmd(f"AUTH PLAIN {blob}")


def test_five_failures_lock_the_address_and_the_user_but_not_the_user_at_home(
    intake: IntakeAgent,
) -> None:
    alice, bob = intake.user("alice"), intake.user("bob")
    home, attacker, elsewhere = "127.0.0.1", "127.0.0.2", "127.0.0.3"
    assert _auth(intake, "alice", alice, home).startswith("235")  # alice's usual address
    for _ in range(5):
        assert _auth(intake, "alice", "guess", attacker).startswith("535 5.7.8")
    # The attacker's address is cooling down: even a right password is not looked at.
    assert _auth(intake, "bob", bob, attacker).startswith("454 4.7.0")
    # alice is cooling down too, for addresses she never logged in from …
    assert _auth(intake, "alice", alice, elsewhere).startswith("454 4.7.0")
    # … but not from home, and bob is untouched.
    assert _auth(intake, "alice", alice, home).startswith("235")
    assert _auth(intake, "bob", bob, home).startswith("235")


def test_failures_for_one_user_from_many_addresses_lock_that_user(intake: IntakeAgent) -> None:
    carol = intake.user("carol")
    for i in range(5):
        assert _auth(intake, "carol", "guess", f"127.0.1.{i + 1}").startswith("535")
    assert _auth(intake, "carol", carol, "127.0.1.9").startswith("454 4.7.0")
    assert _auth(intake, "nobody-such", "guess", "127.0.1.9").startswith("535")
