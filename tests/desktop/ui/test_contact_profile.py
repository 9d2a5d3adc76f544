"""A contact's profile (issue 24): opened from the contacts table by keyboard, it lists what
happened to the contact newest first (added, sent, delivered or bounced, opened, clicked,
unsubscribed) in sentences, with friendly field labels and no raw keys; screenshots under
tests/artifacts/desktop/contact-profile-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert, select

from mailfleet.desktop.db.models import (
    Agent,
    Campaign,
    CampaignPart,
    CampaignRecipient,
    CampaignState,
    Contact,
    EngagementEvent,
    FieldType,
    RecipientStatus,
)
from mailfleet.desktop.services import contact_activity, contacts
from mailfleet.desktop.services.import_report import NewField
from mailfleet.desktop.services.workspaces import ensure_workspace
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.messages import looks_technical
from mailfleet.desktop.ui.qt import QLabel, Qt
from tests.desktop.importing import import_file, plan_for, write_csv

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _campaign(conn: Any, ws: int, agent: int, name: str, start: datetime, contact: int,
              status: RecipientStatus, reason: str | None = None) -> int:  # fmt: skip
    campaign = conn.scalar(insert(Campaign).values(
        workspace_id=ws, name=name, state=CampaignState.COMPLETED.value, audience={},
        subject="Hi", from_address="news@shop.example", key_prefix=name, start_at=start,
        recipients=1).returning(Campaign.id))  # fmt: skip
    part = conn.scalar(insert(CampaignPart).values(campaign_id=campaign, agent_id=agent,
                                                   idempotency_key=name)
                       .returning(CampaignPart.id))  # fmt: skip
    conn.execute(insert(CampaignRecipient).values(
        campaign_id=campaign, part_id=part, contact_id=contact, email="ann@shop.example",
        domain="shop.example", status=status.value, reason=reason))  # fmt: skip
    return int(campaign)


def test_the_profile_tells_the_contacts_story_newest_first(
    qtbot: QtBot, sqlite_engine: Engine, qsettings: Any, tmp_path: Path, artifacts: Path
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    rows = [["email", "first_name", "signup_date"], ["ann@shop.example", "Ann", "2026-01-02"]]
    import_file(sqlite_engine, plan_for(
        write_csv(tmp_path / "spring.csv", rows), ws, ("email", "first_name", "field:signup_date"),
        new_fields=(NewField("signup_date", FieldType.DATE),)))  # fmt: skip
    with sqlite_engine.begin() as conn:
        ann = int(conn.scalar(select(Contact.id).where(Contact.workspace_id == ws)) or 0)
        paris = insert(Agent).values(workspace_id=ws, name="Paris", host="127.0.0.1", port=1,
                                     fingerprint="f", key_ref="k")  # fmt: skip
        agent = int(conn.scalar(paris.returning(Agent.id)) or 0)
        sale = _campaign(conn, ws, agent, "Autumn sale", T0, ann, RecipientStatus.DELIVERED)
        _campaign(conn, ws, agent, "Winter news", T0 + timedelta(days=7), ann,
                  RecipientStatus.BOUNCED, "550 5.1.1 No such mailbox")  # fmt: skip
        for kind, later in (("opened", 1), ("clicked", 2)):
            conn.execute(insert(EngagementEvent).values(
                workspace_id=ws, contact_id=ann, campaign_id=sale, kind=kind,
                occurred_at=T0 + timedelta(hours=later)))  # fmt: skip
        contacts.unsubscribe(conn, ws, [ann], "desktop")
    with sqlite_engine.connect() as conn:
        kinds = [a.kind for a in contact_activity.timeline(conn, ws, ann)]
    # Unsubscribed and added are "now"; the campaigns' entries follow, newest first.
    assert set(kinds[:2]) == {"unsubscribed", "added"}
    assert kinds[2:] == ["sent", "bounced", "clicked", "opened", "sent", "delivered"]

    window = MainWindow(sqlite_engine, ws, "Default", qsettings)
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    page = window.contacts
    qtbot.waitUntil(lambda: page.count_label.text() == "1 contact")
    qtbot.waitUntil(lambda: page.model.contact(0) is not None)
    page.table.setFocus()
    page.table.setCurrentIndex(page.model.index(0, 0))
    qtbot.keyClick(page.table, Qt.Key.Key_Return)  # type: ignore[no-untyped-call]
    qtbot.waitUntil(lambda: page.editor.dialog is not None and page.editor.dialog.isVisible())
    dialog = page.editor.dialog
    assert dialog is not None and dialog.activity is not None
    lines = [dialog.activity.item(i).text() for i in range(dialog.activity.count())]
    story = "\n".join(lines)
    assert "Imported from the file spring.csv" in story
    assert "“Winter news” bounced: the address does not exist at that provider" in story
    assert lines.index(next(t for t in lines if "Clicked a link in “Autumn sale”" in t)) < (
        lines.index(next(t for t in lines if "Opened “Autumn sale”" in t)))  # fmt: skip
    assert "Unsubscribed" in story
    labels = [label.text() for label in dialog.findChildren(QLabel)]
    assert "Signup date (date)" in labels
    assert not [t for t in [*labels, *lines] if looks_technical(t)]
    for choice in ("light", "dark"):
        window.theme.choose(choice)
        qtbot.wait(100)
        dialog.grab().save(str(artifacts / f"contact-profile-{choice}.png"))
    window.theme.choose("light")
    dialog.reject()
