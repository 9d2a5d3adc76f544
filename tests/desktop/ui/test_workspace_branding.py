"""The workspace branding set in the real window reaches a real agent: its preference and
unsubscribe pages show the logo, colours and language; bad input is refused in words and
stored nowhere; an agent that was down when the branding changed gets it once it is back."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, select

from mailfleet.desktop.agents import upload
from mailfleet.desktop.db.models import Agent
from mailfleet.desktop.services import campaigns, workspace_branding
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.branding_dialog import BrandingDialog
from mailfleet.v1 import capture_pb2
from tests.agent.builders import wait_until
from tests.desktop.fleetkit import close, draft, open_window, pair, preferences_url, seed_contacts
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess

LOGO = "https://brand.example/logo.svg"


def _page(url: str) -> str:
    """The page as a browser without Accept-Language gets it (the workspace's language)."""
    with urllib.request.urlopen(url, timeout=30) as reply:  # noqa: S310 (the test agent's URL)
        assert reply.status == 200
        return str(reply.read().decode())


def _fill(dialog: BrandingDialog, accent: str, language: str) -> None:
    dialog.logo.setText(LOGO)
    dialog.accent.setText(accent)
    dialog.background.setText("#fff8e7")
    dialog.language.setCurrentIndex(dialog.language.findData(language))


def test_the_branding_set_here_brands_the_agents_pages_even_after_it_was_away(
    qtbot: QtBot,
    sqlite_engine: Engine,
    agent_factory: Callable[[str], AgentProcess],
    secure_keyring: FileKeyring,
    qsettings: Any,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    proc = agent_factory("")
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, 1, list_name="News")
    record = pair(engine, ws, proc, "shop agent")

    def accepted() -> int:
        with engine.connect() as conn:
            return conn.execute(
                select(Agent.brand_revision).where(Agent.id == record.id)
            ).scalar_one()

    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    window.go("Signup forms")
    page = window.signup_forms
    page.branding_button.click()
    dialog = page.branding
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.message.text() == "", timeout=30_000)  # the defaults
    assert (dialog.logo.text(), dialog.language.currentData()) == ("", "en")

    _fill(dialog, "green", "fr")
    dialog.save()
    assert dialog.message.text() == (
        "⚠ Not saved: The button colour green is not a colour: write it as #rrggbb."
    )
    dialog.accent.setText("#117755")
    dialog.logo.setText("brand.example/logo.svg")
    dialog.save()
    assert "The logo must be a web address starting with https://." in dialog.message.text()
    with engine.connect() as conn:
        assert workspace_branding.branding(conn, ws) == workspace_branding.Branding()

    dialog.logo.setText(LOGO)
    dialog.save()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Saved."), timeout=30_000)
    qtbot.waitUntil(lambda: accepted() == 1, timeout=60_000)  # pushed on save, no campaign yet
    dialog.grab().save(str(artifacts / "workspace-branding.png"))

    campaign_id = campaigns.create(
        engine, ws,
        draft(list_id, ((record.id, 1),), language="", text="Hi: {{ preferences_url }}\n"),
    )  # fmt: skip
    upload.upload_campaign(engine, ws, campaign_id)
    stubs = proc.stubs()
    wait_until(
        lambda: len(stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest()).messages) == 1,
        60,
        "the message in the capture mailbox",
    )
    url = preferences_url(stubs, "user0@example.com")
    preferences = _page(url)
    assert "<html lang=fr>" in preferences and "Vos abonnements" in preferences
    assert LOGO in preferences and "#117755" in preferences and "#fff8e7" in preferences
    leave_all = re.search(r'<form method=post action="([^"]+)">', preferences)
    assert leave_all is not None
    unsubscribe = _page(leave_all.group(1))
    assert LOGO in unsubscribe and "#117755" in unsubscribe

    proc.terminate()  # away while the branding changes: it gets it at its next signup sync
    _fill(dialog, "#aa3300", "de")
    dialog.save()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Saved."), timeout=30_000)
    assert accepted() == 1
    proc.start()
    window.sync.sync_signups()
    qtbot.waitUntil(lambda: accepted() == 2, timeout=60_000)
    again = _page(url)
    assert "<html lang=de>" in again and "#aa3300" in again and "#117755" not in again
    dialog.reject()
    close(qtbot, window)
