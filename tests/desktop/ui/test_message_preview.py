"""The preview is a real browser engine: a design's columns sit side by side at a desktop's
width and stack at a phone's, dark mode darkens the message, a link opens nothing; on the
Templates page it shows the message as a contact picked at random from a list gets it."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWebEngineCore import QWebEngineScript
from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, update

from mailfleet.desktop.db.models import Contact
from mailfleet.desktop.services import templates
from mailfleet.desktop.services.blocks import starters, to_html
from mailfleet.desktop.services.campaigns import Audience
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.message_preview import PHONE_WIDTH, MessagePreview
from mailfleet.desktop.ui.qt import QUrl, QWebEnginePage
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage
from tests.desktop.fleetkit import seed_contacts

# Where the two stories of the newsletter's second section are drawn: (left, top) by heading.
_STORIES = """(() => {
  const at = {};
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const text = walk.currentNode.textContent.trim();
    if (text === "The second story" || text === "The third story") {
      const box = walk.currentNode.parentElement.getBoundingClientRect();
      at[text] = [box.left, box.top];
    }
  }
  return JSON.stringify({stories: at, width: window.innerWidth});
})()"""


def _measure(qtbot: QtBot, preview: MessagePreview) -> dict[str, object]:
    """Ask the page (in the application's own script world: the message's scripts are off)."""
    assert preview.browser is not None
    found: list[str] = []
    preview.browser.page().runJavaScript(
        _STORIES, QWebEngineScript.ScriptWorldId.ApplicationWorld, found.append
    )
    qtbot.waitUntil(lambda: bool(found))
    measured: dict[str, object] = json.loads(found[0])
    return measured


def _lightness(image: QImage) -> float:
    """The mean lightness (0-255) of a grid of the image's pixels."""
    points = [
        image.pixelColor(x, y).lightness()
        for x in range(0, image.width(), 10)
        for y in range(0, image.height(), 10)
    ]
    return sum(points) / len(points)


def test_columns_stack_at_a_phones_width_and_dark_mode_darkens(
    qtbot: QtBot, artifacts: Path
) -> None:
    preview = MessagePreview()
    qtbot.addWidget(preview)
    preview.resize(900, 800)
    preview.show()
    design = starters.starter("newsletter", starters.Branding("Example"))
    preview.setHtml(to_html.render(design))
    qtbot.waitUntil(lambda: "This month at Example" in preview.toPlainText())

    wide = _measure(qtbot, preview)
    stories = wide["stories"]
    assert isinstance(stories, dict)
    second, third = stories["The second story"], stories["The third story"]
    assert second[1] == third[1] and second[0] < third[0]  # side by side

    preview.phone.click()
    assert preview.frame.maximumWidth() == PHONE_WIDTH
    qtbot.waitUntil(lambda: int(str(_measure(qtbot, preview)["width"])) <= PHONE_WIDTH)
    narrow = _measure(qtbot, preview)["stories"]
    assert isinstance(narrow, dict)
    second, third = narrow["The second story"], narrow["The third story"]
    assert second[0] == third[0] and second[1] < third[1]  # stacked
    preview.grab().save(str(artifacts / "preview-phone.png"))
    browser = preview.browser
    assert browser is not None
    light = _lightness(browser.grab().toImage())

    preview.dark.click()
    qtbot.waitUntil(lambda: _lightness(browser.grab().toImage()) < light / 2)
    assert "This month at Example" in preview.toPlainText()
    preview.grab().save(str(artifacts / "preview-phone-dark.png"))

    # A click on a link in the preview opens nothing; showing a message is allowed.
    page, kinds = browser.page(), QWebEnginePage.NavigationType
    away = QUrl("https://away.invalid/")
    assert not page.acceptNavigationRequest(away, kinds.NavigationTypeLinkClicked, True)
    assert not page.acceptNavigationRequest(away, kinds.NavigationTypeFormSubmitted, True)
    assert page.acceptNavigationRequest(QUrl("data:text/html,x"), kinds.NavigationTypeTyped, True)


def test_the_templates_page_previews_a_contact_picked_from_a_list(
    qtbot: QtBot, sqlite_engine: Engine, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    early = seed_contacts(sqlite_engine, ws, 3, list_name="Early")
    seed_contacts(sqlite_engine, ws, 2, domains=("late.example",), list_name="Late")
    with sqlite_engine.begin() as conn:  # user0 left: a campaign would not reach them
        conn.execute(
            update(Contact)
            .where(Contact.email == "user0@example.com")
            .values(status="unsubscribed")
        )
    with sqlite_engine.connect() as conn:
        picks = {templates.sample_contact(conn, ws, Audience(lists=(early,))) for _ in range(20)}
        anyone = {templates.sample_contact(conn, ws) for _ in range(40)}
    assert picks <= {"user1@example.com", "user2@example.com"} and picks
    assert any(a.endswith("@late.example") for a in anyone)

    page = TemplatesPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    qtbot.waitUntil(lambda: page.sample_from.findText("List: Early") > 0)
    page.subject.setText("For {{ first_name }}")
    page.html.setPlainText("<h1>Hi {{ first_name }} from {{ city }}</h1>")
    page.sample_from.setCurrentIndex(page.sample_from.findText("List: Early"))
    page.sample_contact()
    qtbot.waitUntil(lambda: page.contact.text() in {"user1@example.com", "user2@example.com"})
    first = "First" + page.contact.text()[4]
    qtbot.waitUntil(lambda: f"Hi {first} from Paris" in page.preview_html.toPlainText())
    assert f"For {first}" in page.preview_subject.text()
    page.preview_html.phone.click()
    page.preview_html.dark.click()
    qtbot.waitUntil(lambda: f"Hi {first} from Paris" in page.preview_html.toPlainText())
    browser = page.preview_html.browser
    assert browser is not None
    qtbot.waitUntil(lambda: _lightness(browser.grab().toImage()) < 100)
    page.grab().save(str(artifacts / "templates-preview-dark.png"))
    page.runner.wait()
