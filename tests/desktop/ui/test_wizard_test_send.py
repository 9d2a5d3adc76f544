"""The campaign wizard's test send: from the review page, to two addresses, as a chosen
contact of the audience, through a real agent's capture mailbox."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.v1 import capture_pb2
from tests.desktop.fleetkit import (
    AgentFactory,
    close,
    open_window,
    pair,
    seed_contacts,
    start_wizard,
)
from tests.desktop.keyring_backend import FileKeyring


def test_review_page_sends_a_test_as_the_chosen_contact(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    agent_factory: AgentFactory,
    secure_keyring: FileKeyring,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    seed_contacts(engine, ws, 5)
    proc = agent_factory("")  # a new agent: its default route is the capture mailbox
    pair(engine, ws, proc, "This computer")
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: bool(window.agents.records), timeout=15_000)
    html = "<p>Hello {{ first_name }}!</p><a href='{{ unsubscribe_url }}'>Leave</a>"
    wizard = start_wizard(qtbot, window, 5, "News for {{ first_name }}", html)
    wizard.next()
    wizard.sender_page.from_name.setText("The Shop")
    wizard.sender_page.from_address.setText("news@shop.example.com")
    wizard.next()
    wizard.next()
    review = wizard.review_page
    box = review.test_send
    # The picker offers the audience's contacts, one of them chosen already.
    qtbot.waitUntil(lambda: box.contact.count() == 5, timeout=10_000)
    assert box.contact.currentText().startswith("user")
    assert "DKIM:" not in review.summary.text()  # the checks panel says it, once

    box.to.setText("me@example.com, not-an-address")
    box.send()
    qtbot.waitUntil(lambda: "Test not sent" in box.notice.text(), timeout=10_000)
    assert "not-an-address" in box.notice.text() and "\n" not in box.notice.text()

    box.to.setText("me@example.com, boss@example.com")
    box.contact.setCurrentText("user3@example.com")
    box.send()
    qtbot.waitUntil(lambda: box.notice.text().startswith("Test sent"), timeout=15_000)
    assert "me@example.com" in box.notice.text() and "boss@example.com" in box.notice.text()
    capture = proc.stubs().capture

    def captured() -> list[capture_pb2.CapturedMessage]:
        return list(capture.ListCaptured(capture_pb2.ListCapturedRequest()).messages)

    qtbot.waitUntil(lambda: len(captured()) == 2, timeout=30_000)
    assert sorted(m.rcpt_to for m in captured()) == ["boss@example.com", "me@example.com"]
    for listed in captured():
        raw = capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=listed.id)).data
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        assert message["Subject"] == "[Test] News for First3"
        part = message.get_body(("html",))
        assert part is not None and "Hello First3!" in part.get_content()
    qtbot.waitUntil(lambda: review.checks.domain_findings is not None, timeout=15_000)
    wizard.grab().save(str(artifacts / "wizard-review-test-send.png"))
    close(qtbot, window)
