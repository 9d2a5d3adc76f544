"""``mailfleet-desktop sync``, the fleet service with no window: a real service process against
a real PostgreSQL, two real agents and their sinks, no desktop open."""

from __future__ import annotations

import email
import email.policy
import http.client
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, select

from mailfleet.desktop import sync_service
from mailfleet.desktop.db.models import CampaignPart, CampaignRecipient
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.v1 import campaigns_pb2, queue_pb2, suppression_pb2
from tests.agent.builders import relay_config, wait_until
from tests.desktop.fleetkit import AgentFactory, draft, pair, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.processes import stop
from tests.peers.smtp import SmtpSink

HELD = queue_pb2.SuspendRequest(kind=queue_pb2.SUSPENSION_KIND_DOMAIN, name="example.com")


@pytest.fixture
def sinks() -> Iterator[tuple[SmtpSink, SmtpSink]]:
    with SmtpSink() as one, SmtpSink() as two:
        yield one, two


def _unsubscribe_path(message: bytes) -> str:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    urls: list[str] = re.findall(r"<(https?://[^>]+)>", str(parsed["List-Unsubscribe"]))
    (url,) = urls
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _post(agent: AgentProcess, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", agent.http_port, timeout=10)
    try:
        conn.request(
            "POST",
            path,
            body=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return conn.getresponse().status
    finally:
        conn.close()


def _suppressed_on(agent: AgentProcess, address: str) -> bool:
    checked = agent.stubs().suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[address])
    )
    return checked.statuses[0].suppressed


def _remote_id(engine: Engine, campaign_id: int) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(
            select(CampaignPart.agent_campaign_id).where(CampaignPart.campaign_id == campaign_id)
        )


def _status(engine: Engine, campaign_id: int, address: str) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(
            select(CampaignRecipient.status)
            .join(CampaignPart)
            .where(CampaignPart.campaign_id == campaign_id, CampaignRecipient.email == address)
        )


def test_with_no_desktop_open_an_unsubscribe_on_one_agent_stops_anothers_queued_message(
    postgres_engine: Engine,
    agent_factory: AgentFactory,
    sinks: tuple[SmtpSink, SmtpSink],
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    engine = postgres_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 2)  # user0@ and user1@example.com
    procs = {"A": agent_factory(relay_config(sinks[0])), "B": agent_factory(relay_config(sinks[1]))}
    a, b = (pair(engine, ws, procs[name], name) for name in ("A", "B"))
    # B holds its example.com mail, so its campaign waits queued there.
    procs["B"].stubs().queue.Suspend(HELD)
    campaigns.create(engine, ws, draft(list_id, ((a.id, 1),), name="From A"))
    from_b = campaigns.create(engine, ws, draft(list_id, ((b.id, 1),), name="From B"))
    url = engine.url.render_as_string(hide_password=False)
    keys = tmp_path / "agent-keys.json"
    # On a desktop with the keyring: the key file the server's service reads.
    assert sync_service.main(["--database-url", url, "--export-keys", str(keys)]) == 0
    assert keys.stat().st_mode & 0o777 == 0o600

    log = tmp_path / "sync.log"
    with log.open("wb") as out:
        service = subprocess.Popen(
            [sys.executable, "-m", "mailfleet.desktop.launch", "sync", "--key-file", str(keys)],
            env={"MAILFLEET_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # The service uploads both saved campaigns: A delivers, B queues and holds.
        received = sinks[0].wait_for(2, timeout=90)
        to_user0 = next(r for r in received if "user0@example.com" in r.rcpt_to)
        wait_until(lambda: _remote_id(engine, from_b) is not None, 60, "B to hold its campaign")
        ref = campaigns_pb2.CampaignRef(campaign_id=_remote_id(engine, from_b) or 0)
        wait_until(
            lambda: procs["B"].stubs().campaigns.GetCampaign(ref).counts.queued == 2,
            60,
            "B to queue both messages",
        )
        assert not _suppressed_on(procs["B"], "user0@example.com")

        assert _post(procs["A"], _unsubscribe_path(to_user0.data)) == 200
        posted = time.monotonic()
        wait_until(lambda: _suppressed_on(procs["B"], "user0@example.com"), 60, "B to hear of it")
        assert time.monotonic() - posted < 60

        procs["B"].stubs().queue.Resume(queue_pb2.ResumeRequest(kind=HELD.kind, name=HELD.name))
        wait_until(
            lambda: (
                procs["B"].stubs().campaigns.GetCampaign(ref).state
                == campaigns_pb2.CAMPAIGN_STATE_COMPLETED
            ),
            60,
            "B's campaign to finish",
        )
        assert [r.rcpt_to for r in sinks[1].received] == [("user1@example.com",)]
        # The service applied B's events too: the desktop's figures say why user0 got nothing.
        wait_until(
            lambda: _status(engine, from_b, "user0@example.com") == "suppressed",
            60,
            "the desktop database to record the suppression",
        )
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            code = service.wait(60)
        finally:
            stop(service)
    text = log.read_text()
    assert code == 0, text
    assert "following A" in text and "following B" in text
    assert text.rstrip().endswith("fleet sync stopped"), text


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "agent-keys.json"
    keys.write_text('{"agent-1": "secret"}')
    keys.chmod(0o644)
    url = f"sqlite:///{tmp_path / 'desktop.sqlite3'}"
    code = subprocess.run(
        [sys.executable, "-m", "mailfleet.desktop.launch", "sync", "--database-url", url,
         "--key-file", str(keys)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert code.returncode == sync_service.BAD_SETUP
    assert code.stderr.strip() == (
        f"mailfleet-desktop sync: the key file {keys} may be read by others; make it its"
        " owner's only (chmod 600)"
    )
