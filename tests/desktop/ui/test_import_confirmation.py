"""An import whose new contacts have to confirm: they are pending confirmation, the form's
real agent mails each one its confirmation link once (Signups.Subscribe with idempotency keys,
sent from the wizard with progress), and the one who confirms becomes subscribed on the form's
list when the signup sync brings the confirmation back."""

from __future__ import annotations

import csv
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert, select

from mailfleet.desktop.agents import confirm_send, signup_pull, signup_push
from mailfleet.desktop.db.models import Contact, ContactStatus, ListMembership
from mailfleet.desktop.services import segments, signup_forms
from mailfleet.desktop.services.signup_forms import FormDesign, FormFieldDesign
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace
from mailfleet.desktop.ui.import_wizard import ImportWizard
from mailfleet.desktop.ui.qt import QWizard
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.v1 import capture_pb2
from tests.agent.signup.helpers import confirmation_link
from tests.desktop.fleetkit import close, open_window, pair
from tests.desktop.importing import emails
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess

STATUS = 3  # the contacts table's Status column
PEOPLE = [("ann@shop.example", "Ann"), ("bob@shop.example", "Bob"), ("cy@shop.example", "")]


def test_imported_contacts_confirm_through_the_forms_mail(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        news = create_list(conn, ws, "News")
    proc = agent_factory("")
    record = pair(engine, ws, proc, "one")
    with engine.begin() as conn:
        signup_forms.save(
            conn, ws,
            FormDesign(name="Newsletter", list_ids=[news], from_address="news@shop.example.com",
                       fields=[FormFieldDesign("first_name", "First name", required=True)],
                       agent_ids=[record.id]),
        )  # fmt: skip
    assert signup_push.push(engine, ws, record, threading.Event()).pushed == ["Newsletter"]
    path = tmp_path / "people.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["email", "first"], *PEOPLE])

    runner = TaskRunner()
    wizard = ImportWizard(engine, ws, runner)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitUntil(lambda: wizard.ready)
    wizard.file_page.path.setText(str(path))
    wizard.next()
    wizard.next()
    options = wizard.options_page
    choice = options.confirm_form
    assert choice.itemText(0) == "Subscribed at once (they gave their consent already)"
    choice.setCurrentIndex(1)
    assert choice.currentText() == "Pending until they confirm the mail of the form “Newsletter”"
    qtbot.waitUntil(lambda: options.file_check is not None, timeout=20_000)
    wizard.grab().save(str(artifacts / "import-confirm-options.png"))
    wizard.next()
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.sent is not None, timeout=60_000)
    assert run.status.text().splitlines() == [
        "3 rows read: 3 imported, 0 updated, 0 skipped, 0 rejected, 3 pending confirmation",
        "Confirmation mails sent to 2 contacts.",
        "1 contact could not be asked to confirm (for example cy@shop.example: "
        "first_name: This field is required).",
    ]
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.grab().save(str(artifacts / "import-confirm-sent.png"))
    assert set(emails(engine, ws).values()) == {"unconfirmed"}

    stubs = proc.stubs()
    link = confirmation_link(stubs, "ann@shop.example")
    confirmation_link(stubs, "bob@shop.example")
    mailed = len(stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest()).messages)
    assert mailed == 2
    # Sending again (the signup sync does each round) mails nobody twice.
    again = confirm_send.send_all(engine, ws, threading.Event())
    assert (again.sent, again.refused, again.unreachable) == (0, {}, [])
    confirm = urllib.request.Request(link, data=b"")  # noqa: S310 (the test agent's http URL)
    with urllib.request.urlopen(confirm, timeout=30) as reply:  # noqa: S310
        assert reply.status == 200
    applied = signup_pull.pull(engine, ws, record, threading.Event())
    assert applied.confirmed == 1
    assert emails(engine, ws) == {
        "ann@shop.example": "subscribed",
        "bob@shop.example": "unconfirmed",
        "cy@shop.example": "unconfirmed",
    }
    with engine.connect() as conn:
        members = conn.scalars(select(ListMembership.list_id)).all()
    assert members == [news]  # Ann joined the form's list on confirming
    assert len(stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest()).messages) == 2
    runner.wait()


def test_contacts_and_segments_show_pending_confirmation(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path, artifacts: Path
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        conn.execute(insert(Contact), [
            {"workspace_id": ws, "email": "ann@shop.example", "first_name": "Ann",
             "status": ContactStatus.SUBSCRIBED.value},
            {"workspace_id": ws, "email": "bob@shop.example", "first_name": "Bob",
             "status": ContactStatus.UNCONFIRMED.value},
        ])  # fmt: skip
        rules = {"match": "all",
                 "rules": [{"field": "status", "op": "is", "value": "unconfirmed"}]}  # fmt: skip
        assert segments.count(conn, ws, rules) == 1
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Contacts")
    page = window.contacts
    qtbot.waitUntil(lambda: page.count_label.text() == "2 contacts")
    status = page.status_filter
    status.setCurrentIndex(status.findData("unconfirmed"))
    assert status.currentText() == "Pending confirmation"
    qtbot.waitUntil(lambda: page.count_label.text() == "1 contact")
    qtbot.waitUntil(lambda: page.model.index(0, STATUS).data() == "pending confirmation")
    window.grab().save(str(artifacts / "contacts-pending-confirmation.png"))
    close(qtbot, window)
