"""Sending domains from the desktop against real agents: add a domain, create its DKIM key on
the agent, copy the records, check DNS (the local DNS stand-in); the campaign review's and the
templates page's checks warn about an unsigned From domain or missing SPF/DMARC, with the fix;
and an imported international address gets its mail where the receiving server offers
SMTPUTF8, and fails with the reason where not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot
from sqlalchemy import Engine

from mailfleet.agent.client import AgentClient
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services import campaigns
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.workspaces import create_list, ensure_workspace
from mailfleet.desktop.ui.domains_dialog import SendingDomainsDialog
from mailfleet.desktop.ui.qt import QApplication, Qt, QTableWidget
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage
from tests.agent.builders import relay_config
from tests.desktop.fleetkit import close, open_window, pair, seed_contacts
from tests.desktop.importing import import_file, plan_for, write_csv
from tests.desktop.keyring_backend import FileKeyring
from tests.peers.agent import AgentProcess
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink

AgentFactory = Callable[[str], AgentProcess]
INTERNATIONAL = "émilie.çava@exämple.com"
NO_SMTPUTF8 = "the receiving server does not accept international addresses (SMTPUTF8)"


def dns_config(local_dns: LocalDns) -> str:
    return f'\n[routing]\nresolvers = ["127.0.0.1:{local_dns.port}"]\n'


def cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def open_dialog(qtbot: QtBot, record: AgentRecord) -> SendingDomainsDialog:
    dialog = SendingDomainsDialog(record, TaskRunner())
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_marketer_adds_a_domain_creates_its_key_and_checks_dns(
    qtbot: QtBot,
    sqlite_engine: Engine,
    secure_keyring: FileKeyring,
    agent_factory: AgentFactory,
    local_dns: LocalDns,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    proc = agent_factory(dns_config(local_dns))
    record = pair(sqlite_engine, ws, proc, "Lyon")
    dialog = open_dialog(qtbot, record)
    qtbot.waitUntil(lambda: "No sending domain yet" in dialog.message.text(), timeout=15_000)
    assert not dialog.key_button.isEnabled() and not dialog.check_button.isEnabled()

    dialog.new_domain.setText("not a domain")
    dialog.add_button.click()
    qtbot.waitUntil(lambda: "Could not add not a domain" in dialog.message.text(), timeout=15_000)
    assert "'not a domain' is not a domain name" in dialog.message.text()

    dialog.new_domain.setText("Shop.Example")
    dialog.add_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=15_000)
    assert (cell(dialog.table, 0, 0), cell(dialog.table, 0, 1)) == ("shop.example", "not signed")
    qtbot.waitUntil(lambda: "_dmarc.shop.example" in dialog.records_view.toPlainText())
    assert "_domainkey" not in dialog.records_view.toPlainText()  # no key yet
    assert dialog.key_button.isEnabled()

    dialog.key_button.click()
    qtbot.waitUntil(lambda: cell(dialog.table, 0, 1).startswith("DKIM rsa (mf"), timeout=30_000)
    qtbot.waitUntil(lambda: "._domainkey.shop.example  TXT" in dialog.records_view.toPlainText())
    assert "The agent signs mail from shop.example now" in dialog.message.text()
    assert not dialog.key_button.isEnabled()
    with AgentClient(record.pairing()) as client:
        [dkim, spf, dmarc] = client.dns_records("shop.example")
    assert dkim.value in dialog.records_view.toPlainText()  # the private key stayed on the agent
    dialog.copy_button.click()
    assert dkim.value in QApplication.clipboard().text()

    dialog.check_button.click()
    qtbot.waitUntil(lambda: dialog.verdicts is not None, timeout=30_000)
    shown = dialog.verdicts_view.text()
    assert "to fix" in dialog.message.text()
    selector = dkim.name.split(".")[0]
    assert f"<b>DKIM {selector}</b>: missing" in shown
    assert "<b>SPF</b>: missing" in shown and "<b>DMARC</b>: missing" in shown
    qtbot.wait(300)  # let the label lay its new lines out before the screenshot
    dialog.grab().save(str(artifacts / "sending-domains-unpublished.png"))

    for published in (dkim, spf, dmarc):
        local_dns.add_txt(published.name, published.value)
    dialog.check_button.click()
    qtbot.waitUntil(lambda: "<b>DMARC</b>: could be better" in dialog.verdicts_view.text(),
                    timeout=30_000)  # fmt: skip
    shown = dialog.verdicts_view.text()
    assert f"<b>DKIM {selector}</b>: ok</span> — {dkim.name} matches" in shown
    qtbot.wait(300)
    dialog.grab().save(str(artifacts / "sending-domains-published.png"))


def test_the_review_warns_about_an_unsigned_from_domain_and_missing_spf_and_dmarc(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    secure_keyring: FileKeyring,
    agent_factory: AgentFactory,
    local_dns: LocalDns,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    engine = sqlite_engine
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
    seed_contacts(engine, ws, 3)
    proc = agent_factory(dns_config(local_dns))
    record = pair(engine, ws, proc, "Lyon")
    with AgentClient(record.pairing()) as client:
        client.add_sending_domain("shop.example.com")
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)
    qtbot.waitUntil(lambda: record.id in window.agents.status, timeout=15_000)

    def review_of(from_address: str, shot: str) -> str:
        wizard = window.campaigns.new_campaign()
        assert wizard is not None
        qtbot.addWidget(wizard)
        audience = wizard.audience_page
        qtbot.waitUntil(lambda: audience.choices.count() > 0)
        audience.choices.item(0).setCheckState(Qt.CheckState.Checked)
        qtbot.waitUntil(lambda: audience.recipients == 3)
        wizard.next()
        wizard.content_page.subject.setText("Spring news")
        wizard.content_page.html.setPlainText("<p>Hi</p><a href='{{ unsubscribe_url }}'>x</a>")
        wizard.next()
        wizard.sender_page.from_address.setText(from_address)
        wizard.next()
        wizard.next()
        review = wizard.review_page
        qtbot.waitUntil(lambda: review.domain_warnings is not None, timeout=30_000)
        text = review.domain.text()
        qtbot.wait(300)
        wizard.grab().save(str(artifacts / f"wizard-review-domain-{shot}.png"))
        wizard.reject()
        return text

    unsigned = review_of("news@shop.example.com", "unsigned")
    assert "⚠ shop.example.com is not DKIM-signed" in unsigned
    assert "⚠ shop.example.com SPF: missing — no SPF record" in unsigned
    assert "⚠ shop.example.com DMARC: missing" in unsigned

    with AgentClient(record.pairing()) as client:
        key = client.generate_dkim_key("shop.example.com")
    local_dns.add_txt(key.record.name, key.record.value)
    local_dns.add_txt("shop.example.com", "v=spf1 ip4:127.0.0.1 -all")
    window.agents.poll()  # the agents page reads the new DKIM state
    qtbot.waitUntil(
        lambda: any(d.signs for d in window.agents.status[record.id].domains or ()),
        timeout=30_000,
    )
    signed = review_of("news@shop.example.com", "no-dmarc")
    assert "DKIM" not in signed and "SPF" not in signed
    assert "⚠ shop.example.com DMARC: missing" in signed

    local_dns.add_txt("_dmarc.shop.example.com", "v=DMARC1; p=reject")
    clean = review_of("news@shop.example.com", "clean")
    assert clean == "✔ shop.example.com is DKIM-signed and publishes SPF and DMARC."

    elsewhere = review_of("news@other.example", "not-a-sending-domain")
    assert "not a sending domain of the chosen agents" in elsewhere
    close(qtbot, window)


def _send_to_imported_international(
    qtbot: QtBot,
    engine: Engine,
    qsettings: Any,
    proc: AgentProcess,
    tmp_path: Path,
    artifacts: Path,
    name: str,
) -> tuple[Any, str]:
    """Import the international contact (and an ASCII one), send them a campaign through
    ``proc`` and open its dashboard once both are settled; (the window, the reasons text)."""
    with engine.begin() as conn:
        ws = ensure_workspace(conn)
        list_id = create_list(conn, ws, "Imported")
    path = write_csv(tmp_path / "intl.csv", [["email"], [INTERNATIONAL], ["ann@example.com"]])
    report = import_file(engine, plan_for(path, ws, ("email",), list_id=list_id))
    assert report.imported == 2 and [f.email for f in report.non_ascii] == [INTERNATIONAL]
    record = pair(engine, ws, proc, "Paris")
    draft = Draft(name="International", audience=Audience(lists=(list_id,)), subject="Hi",
                  text="Hello", from_address="news@shop.example.com",
                  agents=((record.id, 1),))  # fmt: skip
    campaign_id = campaigns.create(engine, ws, draft)
    window = open_window(qtbot, engine, ws, qsettings, tmp_path)  # uploads and follows it
    window.dashboard.show_campaign(campaign_id)
    window.go("Dashboard")

    def tile(key: str) -> int:
        return int(window.dashboard.tiles[key].text().replace(",", ""))

    qtbot.waitUntil(lambda: tile("delivered") + tile("failed") == 2, timeout=90_000)
    qtbot.wait(300)
    window.grab().save(str(artifacts / f"dashboard-smtputf8-{name}.png"))
    return window, window.dashboard.reasons.text()


def test_an_imported_international_address_is_sent_where_smtputf8_is_offered(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    secure_keyring: FileKeyring,
    agent_factory: AgentFactory,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with SmtpSink(smtputf8=True) as sink:
        proc = agent_factory(relay_config(sink))
        window, reasons = _send_to_imported_international(
            qtbot, sqlite_engine, qsettings, proc, tmp_path, artifacts, "offered"
        )
        assert int(window.dashboard.tiles["delivered"].text()) == 2
        assert int(window.dashboard.tiles["failed"].text()) == 0
        assert NO_SMTPUTF8 not in reasons
        got = {r.rcpt_to[0]: r for r in sink.received}
        assert got["émilie.çava@xn--exmple-cua.com"].mail_options[-1] == "SMTPUTF8"
        close(qtbot, window)


def test_an_imported_international_address_fails_with_the_reason_where_it_is_not(
    qtbot: QtBot,
    sqlite_engine: Engine,
    qsettings: Any,
    secure_keyring: FileKeyring,
    agent_factory: AgentFactory,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    with SmtpSink() as sink:
        proc = agent_factory(relay_config(sink))
        window, reasons = _send_to_imported_international(
            qtbot, sqlite_engine, qsettings, proc, tmp_path, artifacts, "refused"
        )
        assert int(window.dashboard.tiles["delivered"].text()) == 1
        assert int(window.dashboard.tiles["failed"].text()) == 1
        assert window.dashboard.reasons.isVisibleTo(window)
        # In plain words on the page; the agent's own reason in the tooltip.
        assert "Failed (1): The address has non-ASCII characters" in reasons
        assert NO_SMTPUTF8 in window.dashboard.reasons.toolTip()
        assert [r.rcpt_to for r in sink.received] == [("ann@example.com",)]
        close(qtbot, window)


def test_the_templates_checks_say_what_the_from_domain_lacks_with_the_fix(
    qtbot: QtBot,
    sqlite_engine: Engine,
    secure_keyring: FileKeyring,
    agent_factory: AgentFactory,
    local_dns: LocalDns,
    artifacts: Path,
) -> None:
    with sqlite_engine.begin() as conn:
        ws = ensure_workspace(conn)
    proc = agent_factory(dns_config(local_dns))
    record = pair(sqlite_engine, ws, proc, "Lyon")
    with AgentClient(record.pairing()) as client:
        client.add_sending_domain("shop.example.com")
    page = TemplatesPage(sqlite_engine, ws, TaskRunner())
    qtbot.addWidget(page)
    page.resize(1300, 900)
    page.show()
    qtbot.waitUntil(lambda: page.test_agent.count() == 1)
    page.subject.setText("Spring news")
    page.html.setPlainText("<p>Hi</p><a href='{{ unsubscribe_url }}'>Unsubscribe</a>")
    assert page.checks.domain.isHidden()  # no From yet: nothing to say about it

    page.test_from.setText("news@shop.example.com")
    page.test_from.editingFinished.emit()
    qtbot.waitUntil(lambda: page.checks.domain_findings is not None, timeout=30_000)
    said = page.checks.domain_text()
    assert "⚠ shop.example.com is not DKIM-signed: receivers may treat the mail as spam. " \
           "Create its key under Agents → Sending domains…" in said  # fmt: skip
    assert "⚠ shop.example.com SPF: missing — no SPF record. Publish the record shown" in said
    assert '_dmarc.shop.example.com  TXT  "v=DMARC1;' in said
    qtbot.waitUntil(lambda: page.checks.findings is not None)
    page.checks.grab().save(str(artifacts / "checks-panel-from-domain.png"))

    with AgentClient(record.pairing()) as client:
        key = client.generate_dkim_key("shop.example.com")
    local_dns.add_txt(key.record.name, key.record.value)
    local_dns.add_txt("shop.example.com", "v=spf1 ip4:127.0.0.1 -all")
    local_dns.add_txt("_dmarc.shop.example.com", "v=DMARC1; p=reject")
    page.test_from.editingFinished.emit()
    qtbot.waitUntil(lambda: page.checks.domain_findings == [], timeout=30_000)
    assert page.checks.domain.text() == (
        "✔ shop.example.com is DKIM-signed and publishes SPF and DMARC."
    )
    page.test_from.setText("news@elsewhere.example")
    page.test_from.editingFinished.emit()
    qtbot.waitUntil(lambda: page.checks.domain_findings not in (None, []), timeout=30_000)
    assert "not a sending domain of the chosen agents" in page.checks.domain_text()
    assert "Add it under Agents → Sending domains…" in page.checks.domain_text()
    page.runner.wait()
