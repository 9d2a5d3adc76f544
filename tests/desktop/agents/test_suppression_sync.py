"""The desktop's suppression list pushed to real agents: offline agents catch up, removals
remove only what the desktop put there, large lists go through the bulk import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, select, update

from mailfleet.agent.client import AgentClient
from mailfleet.desktop.agents import suppression_sync
from mailfleet.desktop.db.models import Agent, Suppression, SuppressionReason
from mailfleet.desktop.services import suppression
from mailfleet.desktop.services.suppression import import_addresses
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.qt import QPushButton
from mailfleet.v1 import events_pb2, suppression_pb2
from tests.agent.builders import relay_config, wait_until
from tests.desktop.fleetkit import close, open_window, pair
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]
SUPPRESSED = events_pb2.EVENT_TYPE_MESSAGE_SUPPRESSED


def on_agent(proc: AgentProcess, email: str) -> list[suppression_pb2.SuppressionEntry]:
    """The agent's entries for ``email``."""
    reply = proc.stubs().suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[email])
    )
    return list(reply.statuses[0].entries)


def test_a_suppression_reaches_every_agent_and_a_stopped_one_when_it_is_back(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    secure_keyring: FileKeyring,
    qsettings: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    with SmtpSink() as sink_one, SmtpSink() as sink_two:
        running = agent_factory(relay_config(sink_one))
        stopped = agent_factory(relay_config(sink_two))
        pair(engine, ws, running, "one")
        pair(engine, ws, stopped, "two")
        stopped.terminate()
        window = open_window(qtbot, engine, ws, qsettings, tmp_path)
        try:
            window.go("Suppression")
            page = window.suppression
            page.address.setText("Gone@Example.com")
            page.reason.setCurrentIndex(page.reason.findData(SuppressionReason.COMPLAINED.value))
            add = next(b for b in page.findChildren(QPushButton) if b.text() == "Add")
            add.click()
            qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)

            qtbot.waitUntil(lambda: bool(on_agent(running, "gone@example.com")), timeout=30_000)
            [entry] = on_agent(running, "gone@example.com")
            assert entry.reason == suppression_pb2.SUPPRESSION_REASON_COMPLAINT
            assert entry.source.startswith(suppression_sync.DESKTOP_SOURCE)
            waiting = "Agents waiting for changes: two (1)."
            qtbot.waitUntil(lambda: page.agents_status.text().startswith(waiting), timeout=10_000)
            page.grab().save(str(artifacts / "suppression-waiting-for-agent.png"))

            stopped.start()  # the same port and certificate: the desktop reconnects by itself
            qtbot.waitUntil(lambda: bool(on_agent(stopped, "gone@example.com")), timeout=60_000)
            qtbot.waitUntil(lambda: page.agents_status.text() == "", timeout=10_000)
            page.grab().save(str(artifacts / "suppression-pushed.png"))
        finally:
            close(qtbot, window)

        # A campaign from the agent that was offline leaves the address out and says so.
        with AgentClient.connect(stopped.pairing) as agent:
            campaign = agent.create_campaign(
                "push-test", "After the push", "news@shop.example.com", subject="Hi", text="Hi"
            )
            uploaded = agent.upload_recipients(
                campaign.id, [{"email": "gone@example.com"}, {"email": "stays@example.com"}]
            )
            assert uploaded.received == 2
            agent.start_campaign(campaign.id)
            sink_two.wait_for(1, timeout=60)
            wait_until(
                lambda: any(
                    e.type == SUPPRESSED and e.email == "gone@example.com" for e in agent.events()
                ),
                30,
                "the suppressed event",
            )
        assert [r for m in sink_two.received for r in m.rcpt_to] == ["stays@example.com"]

        # The app starts again and the entry is removed: both agents drop the desktop's entry.
        window = open_window(qtbot, engine, ws, qsettings, tmp_path)
        try:
            window.go("Suppression")
            page = window.suppression
            qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)
            page.table.selectRow(0)
            remove = next(
                b for b in page.findChildren(QPushButton) if b.text().startswith("Remove")
            )
            remove.click()
            qtbot.waitUntil(lambda: page.table.rowCount() == 0, timeout=10_000)
            for proc in (running, stopped):
                qtbot.waitUntil(
                    lambda p=proc: not on_agent(p, "gone@example.com"),  # type: ignore[misc]
                    timeout=30_000,
                )
            qtbot.waitUntil(lambda: page.agents_status.text() == "", timeout=10_000)
        finally:
            close(qtbot, window)


def test_removals_remove_only_the_desktops_own_entries_and_repeats_change_nothing(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    secure_keyring: FileKeyring,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    proc = agent_factory("")
    record = pair(engine, ws, proc, "one")
    # The agent recorded a bounce for this address itself, before the desktop knew of it.
    proc.stubs().suppression.AddSuppressions(
        suppression_pb2.AddSuppressionsRequest(
            entries=[
                suppression_pb2.SuppressionEntry(
                    email="bounced@example.com",
                    reason=suppression_pb2.SUPPRESSION_REASON_HARD_BOUNCE,
                    source="smtp: user_unknown",
                )
            ]
        )
    )
    with engine.begin() as conn:
        for email in ("manual@example.com", "bounced@example.com", "again@example.com"):
            suppression.add(conn, ws, email, SuppressionReason.MANUAL, "desktop")
        suppression.add(
            conn, ws, "erased@example.com", SuppressionReason.ERASED, keep_address=False
        )
    first = suppression_sync.push(engine, ws, record)
    assert (first.added, first.existing) == (2, 1)
    assert not on_agent(proc, "erased@example.com")  # no address is left to push

    with engine.begin() as conn:
        ids = {e.email: e.id for e in suppression.entries(conn, ws)}
        for email in ("manual@example.com", "bounced@example.com", "again@example.com"):
            suppression.remove(conn, ws, ids[email])
        suppression.add(conn, ws, "again@example.com", SuppressionReason.MANUAL, "desktop")
    second = suppression_sync.push(engine, ws, record)
    assert (second.removed, second.kept, second.added) == (2, 1, 1)
    assert not on_agent(proc, "manual@example.com")
    [kept] = on_agent(proc, "bounced@example.com")
    assert kept.source == "smtp: user_unknown"  # the agent's own bounce stays
    assert on_agent(proc, "again@example.com")  # removed, then added again: suppressed

    # Nothing is pending, so nothing is sent; replaying everything from the start (a lost
    # cursor) ends in the same list.
    assert not suppression_sync.push(engine, ws, record).changed
    before = listed(proc)
    assert before == {"again@example.com", "bounced@example.com"}
    with engine.begin() as conn:
        conn.execute(update(Agent).values(suppression_cursor=0, removal_cursor=0))
    assert suppression_sync.push(engine, ws, record).changed
    assert listed(proc) == before


def listed(proc: AgentProcess) -> set[str]:
    """Every address on the agent's list."""
    reply = proc.stubs().suppression.ListSuppressions(
        suppression_pb2.ListSuppressionsRequest(limit=1000)
    )
    return {e.email for e in reply.entries}


def test_a_large_import_is_pushed_through_the_bulk_import_in_chunks(
    sqlite_engine: Engine,
    agent_factory: AgentFactory,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    proc = agent_factory("")
    record = pair(engine, ws, proc, "one")
    csv = tmp_path / "suppress.csv"
    csv.write_text("email\n" + "".join(f"user{i}@example.org\n" for i in range(2_500)))
    with engine.begin() as conn:
        assert import_addresses(conn, ws, csv, "import: suppress.csv") == (2_500, 0)
    calls: list[bool] = []
    real = suppression_sync._push_additions

    def counted(*args: Any) -> bool:
        more = real(*args)
        calls.append(more)
        return more

    monkeypatch.setattr(suppression_sync, "CHUNK", 1_000)
    monkeypatch.setattr(suppression_sync, "_push_additions", counted)
    result = suppression_sync.push(engine, ws, record)
    assert (result.added, result.existing, result.invalid) == (2_500, 0, [])
    assert calls == [True, True, True, False]  # three chunks of at most 1,000, then done
    listed = proc.stubs().suppression.ListSuppressions(suppression_pb2.ListSuppressionsRequest())
    assert listed.total == 2_500
    with engine.connect() as conn:
        assert suppression_sync.pending(conn, ws, record.id) == 0
        cursor = conn.scalar(select(Agent.suppression_cursor).where(Agent.id == record.id))
    assert cursor and cursor >= 2_500


def test_an_entry_committed_after_a_later_one_on_postgresql_is_pushed_not_skipped(
    postgres_engine: Engine,
    agent_factory: AgentFactory,
    secure_keyring: FileKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = postgres_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    proc = agent_factory("")
    record = pair(engine, ws, proc, "one")
    monkeypatch.setattr(suppression_sync, "SETTLE_SECONDS", 0.2)
    with engine.connect() as slow:
        writing = slow.begin()
        # Draws the lower id, then commits only after a second writer committed a higher one.
        suppression.add(slow, ws, "late@example.com", SuppressionReason.MANUAL)
        with engine.begin() as fast:
            suppression.add(fast, ws, "early@example.com", SuppressionReason.MANUAL)
        first = suppression_sync.push(engine, ws, record)
        writing.commit()
    with engine.connect() as conn:
        ids = dict(conn.execute(select(Suppression.email, Suppression.id)).all())
    assert ids["late@example.com"] < ids["early@example.com"]
    assert first.added == 1
    second = suppression_sync.push(engine, ws, record)
    assert second.added == 1  # the late one; the early one again is "existing"
    with AgentClient(record.pairing()) as client:
        found = client.stubs.suppression.CheckSuppressions(
            suppression_pb2.CheckSuppressionsRequest(
                emails=["late@example.com", "early@example.com"]
            )
        )
    assert [s.suppressed for s in found.statuses] == [True, True]
    with engine.connect() as conn:
        assert suppression_sync.pending(conn, ws, record.id) == 0
