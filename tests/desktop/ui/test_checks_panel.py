"""The checks panel: live on the templates page, again on the wizard's review page, where an
error blocks Send; a template with an error cannot be chosen in the wizard."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services import templates
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.campaign_wizard import BROKEN, CampaignWizard
from mailfleet.desktop.ui.qt import QStandardItemModel, Qt, QWizard
from mailfleet.desktop.ui.spam_check import NOT_SET_UP
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage
from tests.desktop.fleetkit import pair, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess

GOOD_HTML = (
    "<p>Hello {{ first_name }}, our spring range is here: new colours, new sizes, and free "
    "delivery on every order this month.</p><a href='{{ unsubscribe_url }}'>Unsubscribe</a>"
)


def test_the_templates_page_checks_as_you_type(
    qtbot: QtBot, sqlite_engine: Engine, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    page = TemplatesPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1300, 760)
    page.show()
    page.subject.setText("Hi {{ first_name")
    page.html.setPlainText(
        "<h1>Hello {{ firstname }}</h1>\n<img src='https://x.example/spring.png'>\n"
        "<a href='/shop'>Shop now</a>"
    )
    qtbot.waitUntil(lambda: "In the subject, a merge tag" in page.checks.text())
    shown = page.checks.text()
    assert shown.startswith("✖ 2 errors block sending · ⚠ 4 warnings")
    assert "✖ On line 1 of the HTML, {{ firstname }} is not a field of this workspace. " \
        "Did you mean {{ first_name }}?" in shown  # fmt: skip
    assert "On line 2 of the HTML, the image https://x.example/spring.png has no alt text" in shown
    assert "the link “Shop now” goes to /shop, which does not open from an email" in shown
    assert "Jinja" not in shown and "end of print statement" not in shown
    assert page.checks.blocked()
    assert page.preview_subject.text() == "<b>Cannot render:</b> fix the errors under Checks."
    page.grab().save(str(artifacts / "templates-checks.png"))
    page.checks.grab().save(str(artifacts / "checks-panel.png"))

    page.subject.setText("Hi {{ first_name }}")
    page.html.setPlainText(GOOD_HTML)
    qtbot.waitUntil(lambda: page.checks.text() == "✔ All checks passed.")
    assert not page.checks.blocked()
    page.runner.wait()


def test_the_wizard_refuses_a_broken_template_and_blocks_send_on_an_error(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_process: AgentProcess,
    secure_keyring: FileKeyring,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
        templates.save(conn, ws, "Broken", "Hi {{ firstname }}", GOOD_HTML, "")
        templates.save(conn, ws, "Spring", "Spring news", GOOD_HTML, "")
    seed_contacts(sqlite_engine, ws, 3)
    record = pair(sqlite_engine, ws, agent_process, "local")
    wizard = CampaignWizard(sqlite_engine, ws, TaskRunner(), [record])
    qtbot.addWidget(wizard)
    wizard.show()
    audience = wizard.audience_page
    qtbot.waitUntil(lambda: audience.choices.count() > 0)
    audience.choices.item(0).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: audience.recipients == 3)
    wizard.next()

    combo = wizard.content_page.template
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    offered = {combo.itemText(i): model.item(i).isEnabled() for i in range(combo.count())}
    assert offered == {"(write it here)": True, "Broken" + BROKEN: False, "Spring": True}
    combo.setCurrentIndex(combo.findText("Spring"))
    wizard.content_page.html.setPlainText(GOOD_HTML + "{% if plan %}")
    wizard.next()
    wizard.sender_page.from_address.setText("news@shop.example.com")
    wizard.next()
    wizard.next()
    review = wizard.review_page
    qtbot.waitUntil(lambda: review.checks.findings is not None)
    assert review.checks.text().splitlines()[:2] == [
        "✖ 1 error blocks sending",
        "✖ On line 1 of the HTML, {% if %} is never closed. Add {% endif %} where the part that "
        "depends on it ends.",
    ]
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    qtbot.waitUntil(lambda: review.spam.result.text() == NOT_SET_UP)  # no spamd in this workspace
    wizard.grab().save(str(artifacts / "wizard-review-checks.png"))

    wizard.back()
    wizard.back()
    wizard.back()
    wizard.content_page.html.setPlainText(GOOD_HTML)
    wizard.next()
    wizard.next()
    wizard.next()
    qtbot.waitUntil(lambda: review.checks.text() == "✔ All checks passed.")
    qtbot.waitUntil(lambda: wizard.button(QWizard.WizardButton.FinishButton).isEnabled())
    wizard.runner.wait()
