"""The spam score on screen against a real spamd: not set up until the workspace's setting
names it, then the templates page scores the message with the rules in plain words, and
scores it again by itself after edits, an older version's answer never shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services import spamd_setting
from mailfleet.desktop.services.spam_report import SpamReport
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.spam_check import NOT_SET_UP, SpamdSetting
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage
from tests.peers.spamd import CLEAN, SPAMMY, SpamdServer, start_spamd


@pytest.fixture(scope="module")
def server() -> Iterator[SpamdServer]:
    started = start_spamd()
    yield started
    started.stop()


def test_the_templates_page_shows_the_spam_score_once_spamd_is_set(
    qtbot: QtBot, sqlite_engine: Engine, server: SpamdServer, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    runner = TaskRunner()
    page = TemplatesPage(sqlite_engine, ws, runner)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    page.subject.setText(SPAMMY[0])
    page.html.setPlainText(SPAMMY[1])
    page.spam.button.click()
    qtbot.waitUntil(lambda: page.spam.result.text() == NOT_SET_UP)

    setting = SpamdSetting(sqlite_engine, ws, runner)
    qtbot.addWidget(setting)
    qtbot.waitUntil(setting.address.isEnabled)
    setting.address.setText("localhost:http")
    setting.save()
    assert setting.saved.text().startswith("Not saved: localhost:http is not a spamd address")
    setting.address.setText(server.address)
    setting.save()
    qtbot.waitUntil(lambda: setting.saved.text().startswith("Saved: messages are scored by"))
    with sqlite_engine.connect() as conn:
        assert spamd_setting.spamd_address(conn, ws) == server.address

    page.spam.button.click()
    qtbot.waitUntil(lambda: page.spam.report is not None, timeout=60_000)
    assert page.spam.report is not None and page.spam.report.score > 5
    shown = page.spam.result.text()
    assert shown.startswith(f"⚠ <b>Spam score {page.spam.report.score:.1f}</b>: 5.0 or more")
    assert "It names an erectile-dysfunction drug. <small>(DRUGS_ERECTILE)</small>" in shown
    page.grab().save(str(artifacts / "templates-spam-score.png"))
    runner.wait()


def test_the_templates_page_rescores_after_edits_and_drops_stale_answers(
    qtbot: QtBot, sqlite_engine: Engine, server: SpamdServer, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        spamd_setting.set_spamd_address(conn, ws, server.address)
    runner = TaskRunner()
    busy: list[int] = [0]
    runner.busy_changed.connect(lambda running, _what: busy.append(running))
    page = TemplatesPage(sqlite_engine, ws, runner)
    qtbot.addWidget(page)
    page.resize(1300, 900)
    page.show()
    assert page.checks.isAncestorOf(page.spam)  # the score is one of the checks

    # No button pressed: the score follows the edits.
    page.subject.setText(SPAMMY[0])
    page.html.setPlainText(SPAMMY[1])
    qtbot.waitUntil(lambda: page.spam.report is not None and page.spam.report.score > 5,
                    timeout=60_000)  # fmt: skip
    assert "(DRUGS_ERECTILE)" in page.spam.result.text()
    page.subject.setText(CLEAN[0])
    page.html.setPlainText(CLEAN[1])
    qtbot.waitUntil(lambda: page.spam.report is not None and page.spam.report.score < 2,
                    timeout=60_000)  # fmt: skip
    assert page.spam.result.text().startswith("✔ <b>Spam score")
    page.grab().save(str(artifacts / "templates-checks-live-spam.png"))

    # Asked about the spammy version, then at once about the clean one: whichever answer
    # comes first, only the clean one is shown.
    shown: list[SpamReport] = []
    page.spam.scored.connect(shown.append)
    page.subject.setText(SPAMMY[0])
    page.html.setPlainText(SPAMMY[1])
    page.spam.check()
    page.subject.setText(CLEAN[0])
    page.html.setPlainText(CLEAN[1])
    page.spam.check()
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    page.timer.stop()  # no further preview, so no further score
    page.spam.timer.stop()
    qtbot.waitUntil(lambda: busy[-1] == 0, timeout=60_000)  # both answers are in
    assert shown and all(report.score < 2 for report in shown)
    runner.wait()
