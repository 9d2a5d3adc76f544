"""SIGHUP and the intake: listeners added, removed and changed, new limits for new sessions,
a session under way left alone, a bad config refused, queued mail still delivered."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfleet.agent.client.localagent import free_port
from tests.agent.builders import wait_until
from tests.agent.intake.peer import DOMAIN, IntakeAgent, delivered, message, raw
from tests.peers.smtp import SmtpSink, stall


@pytest.fixture
def agent(sink: SmtpSink, tmp_path: Path) -> Iterator[IntakeAgent]:
    made = IntakeAgent(tmp_path / "agent", sink.port, intake="max_recipients = 100")
    try:
        yield made
    finally:
        made.close()


def hangup(agent: IntakeAgent, expect: str) -> None:
    """SIGHUP by PID, then wait for the agent to log ``expect``."""
    proc = agent.process
    before = proc.log().count(expect)
    assert proc.proc is not None
    os.kill(proc.proc.pid, signal.SIGHUP)
    wait_until(lambda: proc.log().count(expect) > before, 30, f"the log line {expect!r}")


def trusted_listener(port: int, name: str) -> str:
    return (
        f'\n[[intake.listeners]]\nname = "{name}"\nport = {port}\ntls = "none"\n'
        'auth_required = false\ntrusted_networks = ["127.0.0.1/32"]\ntrusted_tenant = "default"\n'
    )


def without_listener(config: str, port: int) -> str:
    """``config`` less the listener on ``port``."""
    head, *blocks = config.split("\n[[intake.listeners]]\n")
    kept = [b for b in blocks if f"port = {port}\n" not in b]
    return "\n[[intake.listeners]]\n".join([head, *kept])


def rcpt_replies(port: int, count: int) -> list[int]:
    """RCPT codes of a new session on ``port`` giving ``count`` recipients."""
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.ehlo("client.test")
        assert smtp.mail(f"app@{DOMAIN}")[0] == 250
        return [smtp.rcpt(f"r{i}@dest.example")[0] for i in range(count)]


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sighup_adds_removes_and_changes_listeners_and_limits(
    agent: IntakeAgent, sink: SmtpSink
) -> None:
    ports = agent.ports
    config = agent.process.config
    # Mail in the queue and in flight across the reload: the relay holds one message.
    sink.rule("held@dest.example", stall(6))
    queued = {"held@dest.example", *(f"q{i}@dest.example" for i in range(5))}
    with smtplib.SMTP("127.0.0.1", ports.trusted, timeout=20) as smtp:
        for rcpt in sorted(queued):
            assert smtp.sendmail(f"app@{DOMAIN}", [rcpt], message(to=rcpt)) == {}
    wait_until(lambda: sink.active >= 1, 30, "the held delivery")

    # A session on a listener that stays as it is, and one on a listener about to change.
    staying = smtplib.SMTP("127.0.0.1", ports.trusted, timeout=20)
    staying.ehlo("client.test")
    assert staying.mail(f"app@{DOMAIN}")[0] == 250
    changing = raw(ports.inbound)
    on_changed = changing.__enter__()
    assert on_changed.cmd("EHLO client.test").startswith("250")

    added = free_port()
    text = config.read_text().replace("max_recipients = 100", "max_recipients = 3")
    text = without_listener(text, ports.smtps)
    # The inbound listener now takes no bounces (AUTH required, so nothing unauthenticated).
    text = text.replace(
        f'port = {ports.inbound}\ntls = "none"\nauth_required = false',
        f'port = {ports.inbound}\ntls = "none"\nauth_required = true',
    )
    config.write_text(text + trusted_listener(added, "added"))
    hangup(agent, "reloaded ")

    # The new listener takes mail under the new limit.
    assert rcpt_replies(added, 4) == [250, 250, 250, 452]
    with smtplib.SMTP("127.0.0.1", added, timeout=20) as smtp:
        rcpts = ["n1@dest.example", "n2@dest.example", "n3@dest.example"]
        assert smtp.sendmail(f"app@{DOMAIN}", rcpts, message()) == {}
    # New sessions on the unchanged listener get the new limit too...
    assert rcpt_replies(ports.trusted, 4) == [250, 250, 250, 452]
    # ...while the one that began before the reload finishes under the old one.
    assert [staying.rcpt(f"s{i}@dest.example")[0] for i in range(5)] == [250] * 5
    assert staying.data(message().encode())[0] == 250
    staying.quit()
    # The removed listener is gone; the changed one closed its session and now wants AUTH.
    assert refused(ports.smtps)
    assert on_changed.reply().startswith("421 4.3.2") and on_changed.closed()
    changing.__exit__(None, None, None)
    with raw(ports.inbound) as c:
        assert c.cmd("EHLO client.test").startswith("250")
        assert c.cmd("MAIL FROM:<>").startswith("530 5.7.0")

    wanted = queued | {"n1@dest.example", "n2@dest.example", "n3@dest.example"}
    wanted |= {f"s{i}@dest.example" for i in range(5)}
    got = delivered(sink, wanted, timeout=60)
    assert sorted(r for m in got for r in m.rcpt_to if r in queued) == sorted(queued)  # once


def test_a_listener_that_cannot_work_refuses_the_reload_and_the_old_ones_run_on(
    agent: IntakeAgent,
) -> None:
    config = agent.process.config
    good = config.read_text()
    port = free_port()
    config.write_text(
        good.replace("max_recipients = 100", "max_recipients = 3")
        + f'\n[[intake.listeners]]\nport = {port}\ntls = "starttls"\n'
        'cert_file = "missing.crt"\nkey_file = "missing.key"\n'
    )
    hangup(agent, "reload refused")
    assert f"intake listener 127.0.0.1:{port}: cannot load its certificate" in agent.process.log()
    assert refused(port)
    assert rcpt_replies(agent.ports.trusted, 4) == [250] * 4  # the old limit stays

    with socket.socket() as taken:  # a port something else holds
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        config.write_text(good + trusted_listener(busy, "busy"))
        hangup(agent, "reload refused")
        assert f"intake cannot listen on 127.0.0.1:{busy}" in agent.process.log()
    assert rcpt_replies(agent.ports.trusted, 4) == [250] * 4
