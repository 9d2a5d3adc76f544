"""A/B campaigns from the desktop against a real agent and a real SMTP sink: the wizard's A/B
page, a person's real click on variant B's link, the agent's clock moved past the deadline
(never slept through), the rest sent only as B, and the result view that says so; under the
manual rule the result view's "Send the rest with variant B"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.agents import upload
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.ab_tests import AbPlan, Rule, Variant, Vary
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.ab_results_view import AbResultsView
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import QWizard
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import (
    answer,
    close,
    draft,
    open_window,
    pair,
    seed_contacts,
    send_wizard,
    start_wizard,
)
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.clicks import click, subject
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]
HTML = '<p>Hi {{ first_name }}, see <a href="https://shop.example/sale">the sale</a>.</p>'


def _view(qtbot: QtBot, window: MainWindow) -> AbResultsView:
    page = window.campaigns
    qtbot.waitUntil(lambda: bool(page.rows) and page.rows[0].ab_test)
    page.table.selectRow(0)
    qtbot.waitUntil(page.ab_button.isEnabled)
    view = page.show_ab_results()
    assert view is not None
    qtbot.waitUntil(lambda: view.results is not None)
    return view


def _cells(view: AbResultsView, column: int) -> list[str]:
    return [view.table.item(r, column).text() for r in range(view.table.rowCount())]  # type: ignore[union-attr]


def _refreshed_until(qtbot: QtBot, view: AbResultsView, holds: Callable[[], bool]) -> None:
    """Refresh the view until ``holds`` (the agent counts clicks as they are recorded)."""

    def check() -> bool:
        if view.refresh_button.isEnabled() and not holds():
            view.refresh()
        return holds()

    qtbot.waitUntil(check)


def test_the_wizards_ab_test_picks_b_on_a_real_click_and_sends_the_rest_only_b(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    clock_file: Path,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with SmtpSink() as sink:
        with sqlite_engine.begin() as conn:
            ws = ensure_workspace(conn)
        seed_contacts(sqlite_engine, ws, 10)
        agent = agent_factory(relay_config(sink))
        pair(sqlite_engine, ws, agent, "Paris")
        window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
        qtbot.waitUntil(lambda: len(window.agents.records) == 1)
        wizard = start_wizard(qtbot, window, 10, "Spring sale", HTML)
        wizard.content_page.ab_option.setChecked(True)
        wizard.next()
        wizard.sender_page.from_address.setText("news@shop.example.com")
        wizard.next()
        ab = wizard.ab_page
        assert wizard.currentPage() is ab
        assert ab.lines[0].text() == "Spring sale"  # variant A starts as the Content page's
        ab.lines[0].setText("Subject A")
        assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # B is empty
        assert "Variant B has no subject" in ab.problem.text()
        ab.lines[1].setText("Subject B")
        ab.percent.setValue(40)
        ab.rule.setCurrentIndex(ab.rule.findData(Rule.CLICKS))
        ab.hours.setValue(4)
        assert ab.summary.text() == (
            "40 % of the recipients (about 4) try 2 variants, about 2 each; after 4 hours "
            "the rest (6) get the variant with the most clicks."
        )
        assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        wizard.grab().save(str(artifacts / "wizard-ab-test.png"))
        wizard.next()
        wizard.next()
        assert "A/B test: 40 % of the recipients" in wizard.review_page.summary.text()
        send_wizard(qtbot, wizard)

        qtbot.waitUntil(lambda: sink.count >= 4)  # the upload runs beside the event loop
        share = list(sink.received)
        by_subject = {s: [r for r in share if subject(r) == s] for s in ("Subject A", "Subject B")}
        assert [len(v) for v in by_subject.values()] == [2, 2]
        click(agent, by_subject["Subject B"][0])

        view = _view(qtbot, window)
        _refreshed_until(qtbot, view, lambda: _cells(view, 5) == ["0", "1"])
        assert _cells(view, 1) == ["Subject A", "Subject B"]
        assert _cells(view, 2) == ["2", "2"] and _cells(view, 6) == ["0.0%", "50.0%"]
        assert view.verdict.text() == (
            "Variant B is ahead on clicks, but the difference could still be chance: "
            "don't draw a lesson from it yet."
        )
        assert view.winner.text() == "No winner yet."
        assert view.pick_row.isHidden()  # the clicks rule picks, not the marketer
        assert len(sink.received) == 4  # the rest waits for the winner
        view.grab().save(str(artifacts / "ab-results-undecided.png"))

        clock_file.write_text(str(5 * 3600))  # past the 4 hours
        qtbot.waitUntil(lambda: sink.count >= 10)
        rest = sink.received[4:]
        assert {subject(r) for r in rest} == {"Subject B"}
        assert {r.rcpt_to for r in rest}.isdisjoint({r.rcpt_to for r in share})
        _refreshed_until(qtbot, view, lambda: view.winner.text().startswith("Winner: variant B"))
        assert _cells(view, 2) == ["2", "2"]  # only the test share is counted per variant
        view.grab().save(str(artifacts / "ab-results-decided.png"))
        close(qtbot, window)


def test_under_the_manual_rule_the_result_view_sends_the_rest_the_pick(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    clock_file: Path,
    secure_keyring: FileKeyring,
    tmp_path: Path,
) -> None:
    with SmtpSink() as sink:
        with sqlite_engine.begin() as conn:
            ws = ensure_workspace(conn)
        list_id = seed_contacts(sqlite_engine, ws, 8)
        record = pair(sqlite_engine, ws, agent_factory(relay_config(sink)), "Paris")
        plan = AbPlan(
            Vary.FROM_NAME, (Variant(from_name="Ann"), Variant(from_name="Bob")), 50, Rule.MANUAL
        )
        campaign_id = campaigns.create(
            sqlite_engine, ws, draft(list_id, ((record.id, 1),), html=HTML, ab_test=plan)
        )
        upload.upload_campaign(sqlite_engine, ws, campaign_id)
        sink.wait_for(4, timeout=60)
        clock_file.write_text(str(30 * 24 * 3600))  # a month on: the manual rule never picks
        window = open_window(qtbot, sqlite_engine, ws, qsettings, tmp_path)
        window.go("Campaigns")
        view = _view(qtbot, window)
        _refreshed_until(qtbot, view, lambda: _cells(view, 2) == ["2", "2"])
        assert _cells(view, 1) == ["Ann", "Bob"]
        assert view.verdict.text() == "No clicks yet: no variant is ahead."
        assert len(sink.received) == 4
        assert not view.pick_row.isHidden()
        view.choice.setCurrentIndex(1)
        assert view.pick_button.text() == "Send the rest with variant B"
        view.pick_button.click()
        answer(view.confirm, "Send variant B")
        qtbot.waitUntil(lambda: view.winner.text().startswith("Winner: variant B"))
        assert view.pick_row.isHidden()
        qtbot.waitUntil(lambda: sink.count >= 8)
        assert all(b"From: Bob <" in r.data for r in sink.received[4:])
        close(qtbot, window)
