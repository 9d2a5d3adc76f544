"""Helpers for the fleet tests: seeded contacts, paired agents, saved campaigns, the app's
window and what it shows."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine, insert, select

from mailfleet.desktop.agents import registry
from mailfleet.desktop.agents.follow import Follower
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.db.models import CampaignState, Contact, FieldType, ListMembership
from mailfleet.desktop.services import campaigns, stats
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.fields import create_field, list_fields
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace
from mailfleet.desktop.ui.campaign_wizard import CampaignWizard
from mailfleet.desktop.ui.main_window import MainWindow
from mailfleet.desktop.ui.qt import QMessageBox, Qt, QWizard
from mailfleet.v1 import capture_pb2
from tests.agent.builders import relay_config
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]


def seed_contacts(
    engine: Engine,
    workspace: int,
    n: int,
    domains: tuple[str, ...] = ("example.com",),
    list_name: str = "Everyone",
) -> int:
    """``n`` subscribed contacts spread over ``domains`` with a "city" field, all on one new
    list; its id."""
    with engine.begin() as conn:
        if "city" not in {f.key for f in list_fields(conn, workspace)}:
            create_field(conn, workspace, "City", FieldType.TEXT)
        list_id = create_list(conn, workspace, list_name)
        rows = [
            {
                "workspace_id": workspace,
                "email": f"user{i}@{domains[i % len(domains)]}",
                "first_name": f"First{i}",
                "fields": {"city": "Paris"},
            }
            for i in range(n)
        ]
        conn.execute(insert(Contact), rows)
        ids = conn.scalars(select(Contact.id).where(Contact.workspace_id == workspace)).all()
        conn.execute(insert(ListMembership), [{"contact_id": i, "list_id": list_id} for i in ids])
    return list_id


def pair(engine: Engine, workspace: int, proc: AgentProcess, name: str) -> AgentRecord:
    """Pair a running test agent under ``name``."""
    return registry.pair(engine, workspace, str(proc.pairing), name)


def preferences_url(stubs: Stubs, address: str) -> str:
    """The preference page's address in the one message to ``address`` in the agent's capture
    mailbox (its text part carries ``{{ preferences_url }}``)."""
    listed = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=100)).messages
    (found,) = [m for m in listed if m.rcpt_to == address]
    item = stubs.capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=found.id))
    msg = email.message_from_bytes(item.data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None
    (url,) = re.findall(r"https?://\S+/p/[0-9a-f]+", body.get_content())
    return str(url)


def open_window(
    qtbot: QtBot, engine: Engine, workspace: int, qsettings: Any, tmp_path: Path
) -> MainWindow:
    """The app's window, as it opens at start (following and pushing to every agent)."""
    window = MainWindow(engine, workspace, "Default", qsettings, tmp_path / "local-agent")
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    return window


def close(qtbot: QtBot, window: MainWindow) -> None:
    """Close the window and let its last background results arrive."""
    window.close()
    window.runner.wait()
    qtbot.wait(200)


def totals(engine: Engine, workspace: int, campaign_id: int) -> stats.Totals:
    """The dashboard's totals for one campaign."""
    with engine.connect() as conn:
        return stats.totals(conn, workspace, campaign_id)


def keyring_file(tmp_path: Path) -> Path:
    """Where the test keyring keeps its secrets."""
    return tmp_path / "keyring.json"


def draft(list_id: int, agent_weights: tuple[tuple[int, int], ...], **kw: object) -> Draft:
    """A campaign to the list through the agents (id, weight); ``kw`` overrides any field."""
    values: dict[str, object] = {
        "name": "Spring",
        "audience": Audience(lists=(list_id,)),
        "subject": "Hello {{ first_name }}",
        "html": "<p>Hi {{ first_name }} from {{ city }}</p><a href='{{ unsubscribe_url }}'>x</a>",
        "from_address": "news@shop.example.com",
        "agents": agent_weights,
    }
    values.update(kw)
    return Draft(**values)  # type: ignore[arg-type]


def follow_all(engine: Engine, ws: int, records: list[AgentRecord]) -> list[Follower]:
    """Follow each agent's events as the window would, without the window."""
    followers = [Follower(engine, ws, r, lambda _a: None, lambda _i, _s: None) for r in records]
    for f in followers:
        f.start()
    return followers


@dataclass
class Fleet:
    """A workspace with seeded contacts, agents relaying to one sink, paired under their
    names, and one saved campaign to all the contacts split evenly across the agents."""

    engine: Engine
    ws: int
    campaign_id: int
    procs: dict[str, AgentProcess]
    records: dict[str, AgentRecord]
    sink: SmtpSink

    def state(self) -> CampaignState:
        """The campaign's state in the database."""
        return state_of(self.engine, self.ws, self.campaign_id)

    def row(self) -> campaigns.CampaignRow:
        """The campaign as the lists show it."""
        with self.engine.connect() as conn:
            rows = campaigns.list_campaigns(conn, self.ws)
        return next(r for r in rows if r.id == self.campaign_id)

    def totals(self) -> stats.Totals:
        """The dashboard's totals for the campaign."""
        return totals(self.engine, self.ws, self.campaign_id)

    def delivered_twice(self) -> list[str]:
        """Recipients the sink received more than once (from any agent)."""
        seen = Counter(rcpt for r in self.sink.received for rcpt in r.rcpt_to)
        return sorted(rcpt for rcpt, n in seen.items() if n > 1)


def new_fleet(
    engine: Engine,
    agent_factory: AgentFactory,
    sink: SmtpSink,
    recipients: int,
    agents: Sequence[str] = ("Paris",),
    **campaign: object,
) -> Fleet:
    """Set up a :class:`Fleet`; ``campaign`` overrides the draft's fields (e.g. its throttle).
    Nothing is uploaded yet."""
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    list_id = seed_contacts(engine, ws, recipients)
    procs = {name: agent_factory(relay_config(sink)) for name in agents}
    records = {name: pair(engine, ws, proc, name) for name, proc in procs.items()}
    weights = tuple((r.id, 1) for r in records.values())
    campaign_id = campaigns.create(engine, ws, draft(list_id, weights, **campaign))
    return Fleet(engine, ws, campaign_id, procs, records, sink)


def state_of(engine: Engine, ws: int, campaign_id: int) -> CampaignState:
    """The campaign's state in the database."""
    with engine.connect() as conn:
        return CampaignState(campaigns.get(conn, ws, campaign_id).state)


def select_campaign(window: MainWindow, campaign_id: int) -> None:
    """Select the campaign's row on the Campaigns page."""
    page = window.campaigns
    row = next(i for i, r in enumerate(page.rows) if r.id == campaign_id)
    page.table.selectRow(row)


def state_cell(window: MainWindow, row: int = 0) -> str:
    """The State column of the Campaigns page's row."""
    item = window.campaigns.table.item(row, 1)
    return item.text() if item is not None else ""


def tile(window: MainWindow, name: str) -> int:
    """The figure a dashboard tile shows."""
    return int(window.dashboard.tiles[name].text().replace(",", ""))


def answer(box: QMessageBox | None, text: str) -> None:
    """Press the button labelled ``text`` of the question the window is asking."""
    assert box is not None and box.isVisible()
    next(b for b in box.buttons() if b.text() == text).click()


def start_wizard(
    qtbot: QtBot, window: MainWindow, recipients: int, subject: str, html: str
) -> CampaignWizard:
    """Open the campaign wizard, choose the first list (of ``recipients``) and go on to the
    Content page, filled with ``subject`` and ``html``."""
    window.go("Campaigns")
    wizard = window.campaigns.new_campaign()
    assert wizard is not None
    qtbot.addWidget(wizard)
    audience = wizard.audience_page
    qtbot.waitUntil(lambda: audience.choices.count() > 0)
    audience.choices.item(0).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: audience.recipients == recipients)
    wizard.next()
    wizard.content_page.subject.setText(subject)
    wizard.content_page.html.setPlainText(html)
    return wizard


def send_wizard(qtbot: QtBot, wizard: CampaignWizard) -> None:
    """On the review page: wait for the checks (warnings do not block), Send, and answer the
    question with Send."""
    checks = wizard.review_page.checks
    qtbot.waitUntil(lambda: checks.findings is not None)
    assert not checks.blocked(), checks.text()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: wizard.confirm is not None and wizard.confirm.isVisible())
    answer(wizard.confirm, "Send")
