"""Templates: merge tags, a live preview by the agent's renderer, pre-send checks, a test send;
analytics with CSV export."""

from __future__ import annotations

import csv
import email
import email.policy
from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, select, update

from mailfleet.desktop.agents import upload
from mailfleet.desktop.agents.follow import Follower
from mailfleet.desktop.db.models import CampaignRecipient, Contact
from mailfleet.desktop.services import campaigns, templates
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.analytics_page import AnalyticsPage
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage
from mailfleet.v1 import capture_pb2
from tests.agent.builders import relay_config, wait_until
from tests.desktop.fleetkit import pair, seed_contacts, totals
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink


def test_preview_checks_and_test_send(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_process: AgentProcess,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    seed_contacts(sqlite_engine, ws, 5)
    with sqlite_engine.begin() as conn:  # two contacts lack a first name
        conn.execute(update(Contact).where(Contact.id <= 2).values(first_name=""))
    page = TemplatesPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1300, 700)
    page.show()
    qtbot.waitUntil(lambda: page.tags.count() > 0)
    assert [page.tags.itemText(i) for i in range(page.tags.count())] == [
        "email", "name", "first_name", "last_name", "city"]  # fmt: skip

    page.name.setText("Welcome")
    page.subject.setText("Hello ")
    page.subject.setFocus()
    qtbot.wait(50)
    page.tags.setCurrentText("first_name")
    page._target = page.subject
    page.insert_tag()
    assert page.subject.text() == "Hello {{ first_name }}"
    page.html.setPlainText(
        "<h1>Hi {{ first_name }} &amp; {{ nickname }}</h1><img src='https://x.example/a.png'>"
        "<p>{{ '<b>' }}</p>"
    )
    page.contact.setText("user3@example.com")
    qtbot.waitUntil(lambda: "Subject:" in page.preview_subject.text(), timeout=10_000)
    assert "nickname }} is not a field" in page.checks.text()
    qtbot.waitUntil(lambda: "no unsubscribe link" in page.checks.text())
    assert "a.png has no alt text" in page.checks.text()
    assert "2 recipients have no first_name" in page.checks.text()

    page.html.setPlainText(
        "<h1>Hi {{ first_name }} from {{ city }}</h1><p>{{ '<b>' }}</p>"
        "<a href='https://x.example/unsubscribe'>Unsubscribe</a>"
    )
    qtbot.waitUntil(lambda: "no unsubscribe link" not in page.checks.text(), timeout=10_000)
    qtbot.waitUntil(lambda: "Hi First3 from Paris" in page.preview_html.toPlainText())
    assert "Subject:</b> Hello First3" in page.preview_subject.text()
    # The agent's renderer escapes merge output in HTML: the tag shows as text.
    assert "<b>" in page.preview_html.toPlainText()
    assert "Hi First3" in page.preview_text.toPlainText()
    page.save()
    qtbot.waitUntil(lambda: page.message.text() == "Saved.")
    assert [t.name for t in page.saved] == ["Welcome"]
    page.grab().save(str(artifacts / "templates.png"))

    pair(sqlite_engine, ws, agent_process, "local")  # a fresh agent captures by default
    page.refresh()
    qtbot.waitUntil(lambda: page.test_agent.count() == 1)
    page.test_to.setText("me@example.com, not-an-address")
    page.test_from.setText("shop@example.com")
    page.send_test()
    qtbot.waitUntil(lambda: "Test not sent" in page.message.text(), timeout=10_000)
    assert "not-an-address" in page.message.text()
    page.test_to.setText("me@example.com, boss@example.com")
    page.send_test()
    qtbot.waitUntil(lambda: page.message.text().startswith("Test sent"), timeout=15_000)
    capture = agent_process.stubs().capture

    def captured() -> list[str]:
        listed = capture.ListCaptured(capture_pb2.ListCapturedRequest())
        return sorted(m.rcpt_to for m in listed.messages)

    qtbot.waitUntil(lambda: captured() == ["boss@example.com", "me@example.com"], timeout=30_000)
    first = capture.ListCaptured(capture_pb2.ListCapturedRequest()).messages[0]
    raw = capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=first.id)).data
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "[Test] Hello First3"
    page.runner.wait()
    qtbot.wait(100)


def test_templates_service_reports_a_broken_template(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        found = templates.checks(conn, ws, "Hi {{ first_name", "<p>x</p>", "")
    assert found[0].level == "error"
    assert found[0].message == "In the subject, a merge tag opened with {{ is not closed."
    shown = templates.preview("Hi", "{% for x in y %}", "", "a@example.com", "", {})
    assert shown.error


def test_analytics_compare_and_export_csv(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(sqlite_engine, ws, 30, ("gmail.example.com", "yahoo.example.com"))
    with SmtpSink() as sink:
        proc = agent_factory(relay_config(sink))
        record = pair(sqlite_engine, ws, proc, "one")
        for name in ("April", "May"):
            draft = Draft(name=name, audience=Audience(lists=(list_id,)), subject="Hi",
                          text="x", from_address="news@shop.example.com",
                          agents=((record.id, 1),))  # fmt: skip
            campaign_id = campaigns.create(sqlite_engine, ws, draft)
            upload.upload_campaign(sqlite_engine, ws, campaign_id)
        sink.wait_for(60, timeout=60)
    follower = Follower(sqlite_engine, ws, record, lambda _a: None, lambda _i, _s: None)
    follower.start()
    try:
        wait_until(lambda: totals(sqlite_engine, ws, campaign_id).delivered == 30, 30, "sync")
        wait_until(lambda: totals(sqlite_engine, ws, campaign_id - 1).delivered == 30, 30, "sync")
    finally:
        follower.stop()
    # Three complaints on Gmail for May (as the feedback loop would report them).
    with sqlite_engine.begin() as conn:
        gmail = conn.scalars(
            select(CampaignRecipient.id)
            .where(CampaignRecipient.campaign_id == campaign_id,
                   CampaignRecipient.domain == "gmail.example.com")
            .limit(3)
        ).all()  # fmt: skip
        conn.execute(
            update(CampaignRecipient).where(CampaignRecipient.id.in_(gmail)).values(complained=True)
        )

    page = AnalyticsPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1100, 500)
    page.show()
    qtbot.waitUntil(lambda: page.compare.rowCount() == 2, timeout=10_000)
    assert page.compare.item(0, 0).text() == "May"  # type: ignore[union-attr]
    assert page.compare.item(0, 4).text() == "30"  # type: ignore[union-attr]
    page.grab().save(str(artifacts / "analytics-compare.png"))
    page.tabs.setCurrentIndex(2)
    qtbot.wait(100)
    page.grab().save(str(artifacts / "analytics-domains.png"))
    rows = page.export(tmp_path / "domains.csv")
    assert rows == 2
    with (tmp_path / "domains.csv").open(encoding="utf-8-sig") as f:
        data = {r["domain"]: r for r in csv.DictReader(f)}
    assert data["gmail.example.com"]["delivered"] == "30"
    assert data["gmail.example.com"]["over_gmail_complaint_line"] == "yes"
    assert data["yahoo.example.com"]["over_gmail_complaint_line"] == "no"
    page.tabs.setCurrentIndex(0)
    assert page.export(tmp_path / "campaigns.csv") == 2
    page.tabs.setCurrentIndex(1)
    qtbot.wait(100)
    page.grab().save(str(artifacts / "analytics-trends.png"))
    assert page.export(tmp_path / "trend.csv") == 1
    with (tmp_path / "trend.csv").open(encoding="utf-8-sig") as f:
        (day,) = list(csv.DictReader(f))
    assert day["delivered"] == "60"
    page.runner.wait()
    qtbot.wait(100)
