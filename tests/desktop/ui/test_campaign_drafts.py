"""Duplicating a campaign from the Campaigns page: a draft with the same settings, opened in
the wizard, sent once through a real agent; drafts deleted after asking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert

from mailfleet.desktop.db.models import Campaign, CampaignPart, CampaignState, PartState
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.campaigns import Audience
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import Qt, QWizard
from tests.desktop.fleetkit import answer, close, open_window, pair, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess


def select(window: MainWindow, name: str) -> None:
    page = window.campaigns
    page.table.selectRow(next(i for i, r in enumerate(page.rows) if r.name == name))


def states(engine: Engine, ws: int) -> list[tuple[str, CampaignState, int]]:
    with engine.connect() as conn:
        return [(c.name, c.state, c.recipients) for c in campaigns.list_campaigns(conn, ws)]


def test_a_duplicate_opens_as_a_draft_with_the_settings_and_is_sent_once(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 6)
    with engine.begin() as conn:
        source = conn.scalar(insert(Campaign).values(
            workspace_id=ws, name="Spring sale", state=CampaignState.COMPLETED.value,
            audience=Audience(lists=(list_id,)).to_json(), subject="Spring is here",
            html="<p>Hi {{ first_name }}</p><a href='{{ unsubscribe_url }}'>Leave</a>",
            from_name="The Shop", from_address="news@shop.example.com",
            reply_to="help@shop.example.com", throttle_per_minute=1200,
            start_at=utcnow() - timedelta(days=3), time_zone="Europe/Paris",
            key_prefix="old", recipients=6).returning(Campaign.id))  # fmt: skip
    record = pair(engine, ws, agent_factory(""), "This computer")  # capture: nothing leaves
    with engine.begin() as conn:  # the original went through this agent with weight 3
        conn.execute(insert(CampaignPart).values(
            campaign_id=source, agent_id=record.id, weight=3, idempotency_key="old-1",
            state=PartState.COMPLETED.value))  # fmt: skip
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: len(window.agents.records) == 1)
    window.go("Campaigns")
    page = window.campaigns
    qtbot.waitUntil(lambda: len(page.rows) == 1)
    select(window, "Spring sale")
    assert page.duplicate_button.isEnabled() and not page.delete_draft_button.isEnabled()
    page.duplicate_button.click()

    qtbot.waitUntil(lambda: page.drafts.wizard is not None and page.drafts.wizard.isVisible())
    wizard = page.drafts.wizard
    assert wizard is not None
    qtbot.addWidget(wizard)
    assert states(engine, ws) == [("Spring sale (copy)", CampaignState.DRAFT, 0),
                                  ("Spring sale", CampaignState.COMPLETED, 6)]  # fmt: skip
    qtbot.waitUntil(lambda: wizard.audience_page.recipients == 6)  # the same list, ticked
    assert wizard.content_page.subject.text() == "Spring is here"
    assert "{{ first_name }}" in wizard.content_page.html.toPlainText()
    assert wizard.sender_page.from_name.text() == "The Shop"
    assert wizard.sender_page.reply_to.text() == "help@shop.example.com"
    assert wizard.delivery_page.throttle.value() == 1200
    assert wizard.delivery_page.chosen() == ((record.id, 3),)
    assert wizard.delivery_page.zone.currentText() == "Europe/Paris"
    assert not wizard.delivery_page.later.isChecked()  # its start was past: at once
    assert wizard.review_page.name.text() == "Spring sale (copy)"
    wizard.grab().save(str(artifacts / "campaign-duplicate-wizard.png"))
    qtbot.waitUntil(lambda: page.table.rowCount() == 2)
    window.grab().save(str(artifacts / "campaigns-draft.png"))

    for _ in range(4):
        wizard.next()
    qtbot.waitUntil(lambda: "All checks passed" in wizard.review_page.checks.text())
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: wizard.confirm is not None and wizard.confirm.isVisible())
    answer(wizard.confirm, "Send")
    qtbot.waitUntil(lambda: [s for _, s, _ in states(engine, ws)]
                    == [CampaignState.COMPLETED, CampaignState.COMPLETED],
                    timeout=60_000)  # fmt: skip
    # The draft became the campaign: one copy, sent to the six, the original untouched.
    assert states(engine, ws) == [("Spring sale (copy)", CampaignState.COMPLETED, 6),
                                  ("Spring sale", CampaignState.COMPLETED, 6)]  # fmt: skip
    close(qtbot, window)


def test_a_draft_keeps_what_was_changed_in_the_wizard(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 2)
    with engine.begin() as conn:
        source = conn.scalar(insert(Campaign).values(
            workspace_id=ws, name="Old", state=CampaignState.COMPLETED.value,
            audience=Audience(lists=(list_id,)).to_json(), subject="Old subject", text="Hi",
            from_address="a@shop.example.com", key_prefix="old",
        ).returning(Campaign.id))  # fmt: skip
        assert source is not None
        draft_id = campaigns.duplicate(conn, ws, source)
    pair(engine, ws, agent_factory(""), "This computer")
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: len(window.agents.records) == 1)
    window.go("Campaigns")
    page = window.campaigns
    qtbot.waitUntil(lambda: len(page.rows) == 2)
    row = next(i for i, r in enumerate(page.rows) if r.name == "Old (copy)")
    point = page.table.visualRect(page.table.model().index(row, 0)).center()
    view = page.table.viewport()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)  # type: ignore[no-untyped-call]
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=point)  # type: ignore[no-untyped-call]
    qtbot.waitUntil(lambda: page.drafts.wizard is not None and page.drafts.wizard.isVisible())
    wizard = page.drafts.wizard
    assert wizard is not None
    qtbot.addWidget(wizard)
    wizard.content_page.subject.setText("New subject")
    wizard.button(QWizard.WizardButton.CustomButton1).click()  # Save draft
    qtbot.waitUntil(lambda: not wizard.isVisible())
    with engine.connect() as conn:
        saved = campaigns.draft_of(conn, ws, draft_id)
    assert (saved.name, saved.subject, saved.audience) == (
        "Old (copy)", "New subject", Audience(lists=(list_id,)))  # fmt: skip
    assert [s for _, s, _ in states(engine, ws)] == [CampaignState.DRAFT,
                                                     CampaignState.COMPLETED]  # fmt: skip
    close(qtbot, window)


def test_a_draft_is_deleted_after_asking(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 2)
    with engine.begin() as conn:
        source = conn.scalar(insert(Campaign).values(
            workspace_id=ws, name="Old", state=CampaignState.CANCELLED.value,
            audience=Audience(lists=(list_id,)).to_json(), subject="s",
            from_address="a@shop.example.com", key_prefix="old",
        ).returning(Campaign.id))  # fmt: skip
        assert source is not None
        campaigns.duplicate(conn, ws, source)
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Campaigns")
    page = window.campaigns
    qtbot.waitUntil(lambda: len(page.rows) == 2)
    select(window, "Old (copy)")
    assert page.delete_draft_button.isEnabled()
    assert not any(b.isEnabled() for b in page.action_buttons.values())
    page.delete_draft_button.click()
    answer(page.drafts.confirm, "Keep it")
    assert len(states(engine, ws)) == 2
    page.delete_draft_button.click()
    answer(page.drafts.confirm, "Delete draft")
    qtbot.waitUntil(lambda: len(page.rows) == 1)
    assert [n for n, _, _ in states(engine, ws)] == ["Old"]
    first = page.table.item(0, 0)
    assert first is not None and first.text() == "Old"
    close(qtbot, window)


def test_the_page_language_goes_with_a_duplicate_and_its_draft(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 2)
    with engine.begin() as conn:
        source = conn.scalar(insert(Campaign).values(
            workspace_id=ws, name="Rentrée", state=CampaignState.COMPLETED.value,
            audience=Audience(lists=(list_id,)).to_json(), subject="s", text="Salut",
            from_address="a@shop.example.com", key_prefix="old", language="fr",
        ).returning(Campaign.id))  # fmt: skip
        assert source is not None
        draft_id = campaigns.duplicate(conn, ws, source)
    pair(engine, ws, agent_factory(""), "This computer")
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: len(window.agents.records) == 1)
    window.go("Campaigns")
    page = window.campaigns
    qtbot.waitUntil(lambda: len(page.rows) == 2)
    page.drafts.open(draft_id)
    qtbot.waitUntil(lambda: page.drafts.wizard is not None and page.drafts.wizard.isVisible())
    wizard = page.drafts.wizard
    assert wizard is not None
    qtbot.addWidget(wizard)
    language = wizard.sender_page.language
    assert language.currentText() == "French"
    assert [language.itemText(i) for i in range(language.count())] == [
        "Each recipient's browser language", "English", "German", "French", "Spanish"]  # fmt: skip
    wizard.next()
    wizard.next()
    wizard.grab().save(str(artifacts / "campaign-wizard-sender-language.png"))
    language.setCurrentText("Spanish")
    wizard.button(QWizard.WizardButton.CustomButton1).click()  # Save draft
    qtbot.waitUntil(lambda: not wizard.isVisible())
    with engine.connect() as conn:
        assert campaigns.draft_of(conn, ws, draft_id).language == "es"
    close(qtbot, window)
