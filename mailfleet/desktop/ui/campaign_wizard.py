"""The campaign wizard: audience, content, sender, an optional A/B test, delivery (with a
send window), review, send."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from mailfleet.desktop.agents.delivery_mode import DeliveryMode, delivery_mode
from mailfleet.desktop.agents.registry import AgentRecord, AgentStatus
from mailfleet.desktop.services import campaigns, fields, segments, templates, workspaces
from mailfleet.desktop.services.ab_tests import Rule
from mailfleet.desktop.services.campaigns import Audience, Draft
from mailfleet.desktop.services.content_checks import Finding, check_content
from mailfleet.desktop.services.languages import LANGUAGES
from mailfleet.desktop.services.plurals import counted, plural
from mailfleet.desktop.services.send_plan import estimate_minutes, finish_at
from mailfleet.desktop.services.send_windows import SendWindow
from mailfleet.desktop.ui import dates
from mailfleet.desktop.ui.ab_test_page import AbTestPage
from mailfleet.desktop.ui.checks_panel import ChecksPanel
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QCheckBox,
    QComboBox,
    QDateTime,
    QDateTimeEdit,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QSpinBox,
    QStandardItemModel,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimeZone,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
    Signal,
)
from mailfleet.desktop.ui.send_window_box import SendWindowBox
from mailfleet.desktop.ui.spam_check import SpamScore
from mailfleet.desktop.ui.tasks import Task, TaskRunner
from mailfleet.desktop.ui.wizard_test_send import TestSendBox

BROKEN = " — has errors: fix it under Templates"
NO_LIMIT = "no limit (as fast as the agents send)"
TIME_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def throttle_text(per_minute: int) -> str:
    """The throttle with its unit: "no limit (…)" or "at most 600 messages per minute"."""
    if not per_minute:
        return NO_LIMIT
    return f"at most {counted(per_minute, 'message')} per minute"


class AudiencePage(QWizardPage):
    """Lists and segments; the count excludes suppressed and unsubscribed contacts."""

    def __init__(self, wizard: CampaignWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Audience")
        self.setSubTitle("Contacts on any chosen list or in any chosen segment, minus suppression.")
        self.choices = QListWidget()
        self.loaded = False  # the lists and segments are shown
        self.count = QLabel("Loading…")
        self.recipients = 0
        self.choices.itemChanged.connect(lambda _i: self.recount())
        layout = QVBoxLayout(self)
        layout.addWidget(self.choices, 1)
        layout.addWidget(self.count)

    def fill(
        self, lists: list[tuple[int, str]], saved: list[tuple[int, str, dict[str, Any]]]
    ) -> None:
        """Offer the workspace's lists and saved segments (read by the wizard)."""
        self.choices.blockSignals(True)
        for list_id, name in lists:
            self._add(f"List: {name}", ("list", list_id))
        for seg_id, name, _ in saved:
            self._add(f"Segment: {name}", ("segment", seg_id))
        self.choices.blockSignals(False)
        self.loaded = True
        self.count.setText("Choose lists or segments.")

    def check(self, audience: Audience) -> None:
        """Tick the lists and segments of ``audience`` (a draft's), then count."""
        wanted = {("list", i) for i in audience.lists} | {("segment", i) for i in audience.segments}
        self.choices.blockSignals(True)
        for row in range(self.choices.count()):
            item = self.choices.item(row)
            if tuple(item.data(Qt.ItemDataRole.UserRole)) in wanted:
                item.setCheckState(Qt.CheckState.Checked)
        self.choices.blockSignals(False)
        self.recount()

    def _add(self, text: str, data: tuple[str, int]) -> None:
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Unchecked)
        item.setData(Qt.ItemDataRole.UserRole, data)
        self.choices.addItem(item)

    def audience(self) -> Audience:
        """The checked lists and segments."""
        lists: list[int] = []
        segs: list[int] = []
        for row in range(self.choices.count()):
            item = self.choices.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                kind, ident = item.data(Qt.ItemDataRole.UserRole)
                (lists if kind == "list" else segs).append(ident)
        return Audience(tuple(lists), tuple(segs))

    def recount(self) -> None:
        """Count the audience in the background."""
        audience = self.audience()
        self.recipients = 0
        self.completeChanged.emit()
        if not (audience.lists or audience.segments):
            self.count.setText("Choose lists or segments.")
            return
        self.count.setText("Counting…")
        ws = self.w.workspace_id

        def done(n: int) -> None:
            if audience != self.audience():
                return  # the choice changed meanwhile; a newer count is on its way
            self.recipients = n
            self.count.setText(f"<b>{n:,}</b> {plural(n, 'recipient')} (after suppression)")
            self.completeChanged.emit()

        self.w.runner.read(self.w.engine, "Counting recipients",
                           lambda c: campaigns.count_audience(c, ws, audience), done)  # fmt: skip

    def isComplete(self) -> bool:
        """Only an audience with someone in it can go on."""
        return self.recipients > 0


class ContentPage(QWizardPage):
    """Subject and bodies, optionally from a saved template."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Content")
        self.template = QComboBox()
        self.template.addItem("(write it here)", None)
        self.saved: list[templates.TemplateRow] = []
        self.broken: frozenset[int] = frozenset()  # saved templates whose checks find an error
        self.template.currentIndexChanged.connect(self._load)
        self.subject = QLineEdit()
        self.html = QPlainTextEdit()
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("Optional: derived from the HTML when empty")
        self.ab_option = QCheckBox("Try 2-4 variants on part of the audience first (A/B test)")
        self.subject.textChanged.connect(self.completeChanged)
        self.html.textChanged.connect(self.completeChanged)
        self.text.textChanged.connect(self.completeChanged)
        form = QFormLayout(self)
        form.addRow("Template", self.template)
        form.addRow("Subject", self.subject)
        form.addRow("HTML", self.html)
        form.addRow("Text", self.text)
        form.addRow(self.ab_option)

    def fill(self, saved: list[templates.TemplateRow], broken: frozenset[int]) -> None:
        """Offer the saved templates (read by the wizard); a ``broken`` one (its checks found
        an error) is shown but cannot be chosen."""
        self.saved, self.broken = saved, broken
        model = self.template.model()
        assert isinstance(model, QStandardItemModel)
        for t in saved:
            self.template.addItem(t.name + (BROKEN if t.id in broken else ""), t.id)
            item = model.item(self.template.count() - 1)
            item.setEnabled(t.id not in broken)

    def _load(self) -> None:
        ident = self.template.currentData()
        chosen = next((t for t in self.saved if t.id == ident), None)
        if chosen is not None:
            self.subject.setText(chosen.subject)
            self.html.setPlainText(chosen.html)
            self.text.setPlainText(chosen.text)

    def isComplete(self) -> bool:
        """A subject and a body."""
        body = self.html.toPlainText().strip() or self.text.toPlainText().strip()
        return bool(self.subject.text().strip() and body)


class SenderPage(QWizardPage):
    """From, reply-to, the sending domain that follows from them, and the language of the
    agents' pages its recipients open (unsubscribe, preferences)."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Sender")
        self.from_name = QLineEdit()
        self.from_address = QLineEdit()
        self.reply_to = QLineEdit()
        self.domain = QLabel("")
        self.from_address.textChanged.connect(self._domain)
        self.language = QComboBox()
        self.language.addItem("Each recipient's browser language", "")
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setToolTip("The language of the unsubscribe and preference pages")
        form = QFormLayout(self)
        form.addRow("From name", self.from_name)
        form.addRow("From address", self.from_address)
        form.addRow("Reply-to", self.reply_to)
        form.addRow("Sending domain", self.domain)
        form.addRow("Page language", self.language)

    def _domain(self, text: str) -> None:
        domain = text.rpartition("@")[2].lower() if "@" in text else ""
        self.domain.setText(
            f"{domain} — the agents sign with its DKIM key if they have one" if domain else ""
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """A from address with a domain."""
        return "@" in self.from_address.text() and "." in self.from_address.text()


class DeliveryPage(QWizardPage):
    """Agents with weights, throttle and the start time in a time zone."""

    def __init__(self, wizard: CampaignWizard) -> None:
        super().__init__()
        self.setTitle("Delivery")
        self.setSubTitle("Recipients are split across the chosen agents in proportion to weight.")
        self.records = wizard.records
        self.table = QTableWidget(len(self.records), 3)
        self.table.setHorizontalHeaderLabels(["Agent", "Address", "Weight"])
        self.checks: list[QCheckBox] = []
        self.weights: list[QSpinBox] = []
        for row, record in enumerate(self.records):
            check = QCheckBox(record.name)
            check.setChecked(True)
            check.toggled.connect(self.completeChanged)
            weight = QSpinBox()
            weight.setRange(1, 100)
            weight.setValue(1)
            self.table.setCellWidget(row, 0, check)
            self.table.setItem(row, 1, QTableWidgetItem(record.target))
            self.table.setCellWidget(row, 2, weight)
            self.checks.append(check)
            self.weights.append(weight)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.throttle = QSpinBox()
        self.throttle.setRange(0, 1_000_000)
        self.throttle.setSpecialValueText(NO_LIMIT)
        self.throttle.setSuffix(" messages per minute")
        self.later = QCheckBox("Start at")
        self.start = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600))
        self.start.setDisplayFormat(dates.date_time_format())
        self.start.setCalendarPopup(True)
        self.zone = QComboBox()
        self.zone.addItems(list(TIME_ZONES))
        # The start time is read in this zone: the user's own unless they choose another.
        local = dates.local_zone_id()
        if local and local not in TIME_ZONES:
            self.zone.insertItem(0, local)
        self.zone.setCurrentText(local or TIME_ZONES[0])
        self.window_box = SendWindowBox()
        self.window_box.setToolTip("Outside these days and hours the agents hold the mail")
        self.window_box.changed.connect(self.completeChanged)
        self.window_problem = QLabel("")
        self.window_problem.setStyleSheet("color: #b00020")
        form = QFormLayout(self)
        form.addRow(self.table)
        form.addRow("Throttle", self.throttle)
        form.addRow(self.later, self.start)
        form.addRow("Time zone", self.zone)
        form.addRow("Send window", self.window_box)
        form.addRow(self.window_problem)

    def choose(self, agents: tuple[tuple[int, int], ...]) -> None:
        """Check these (agent id, weight) and no other; agents no longer paired are left out,
        and if none is left the choice stays as it was."""
        weights = dict(agents)
        if not any(r.id in weights for r in self.records):
            return
        for record, check, weight in zip(self.records, self.checks, self.weights, strict=True):
            check.setChecked(record.id in weights)
            weight.setValue(weights.get(record.id, 1))

    def chosen(self) -> tuple[tuple[int, int], ...]:
        """(agent id, weight) of the checked agents."""
        return tuple(
            (r.id, w.value())
            for r, c, w in zip(self.records, self.checks, self.weights, strict=True)
            if c.isChecked()
        )

    def start_at(self) -> datetime | None:
        """The start time in UTC, or None for "now"."""
        if not self.later.isChecked():
            return None
        local = QDateTime(
            self.start.date(), self.start.time(), QTimeZone(self.zone.currentText().encode())
        )
        return datetime.fromtimestamp(local.toSecsSinceEpoch(), UTC)

    def send_window(self) -> SendWindow | None:
        """The days and hours it may send in, in the chosen time zone; None: any hour."""
        return self.window_box.send_window(self.zone.currentText())

    def isComplete(self) -> bool:
        """At least one agent, and a window the agents will take (or none)."""
        window = self.send_window()
        problem = window.problem() if window is not None else None
        self.window_problem.setText(f"⚠ {problem[0].upper()}{problem[1:]}." if problem else "")
        return bool(self.chosen()) and problem is None


class ReviewPage(QWizardPage):
    """What will happen, in numbers, before anything is sent."""

    def __init__(self, wizard: CampaignWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Review")
        self.name = QLineEdit()
        self.name.textChanged.connect(self.completeChanged)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.spam = SpamScore(wizard.engine, wizard.workspace_id, wizard.runner, self._spam_message)
        # The content's checks, the From domain's DKIM, SPF and DMARC, and the spam score.
        self.checks = ChecksPanel(self.spam)
        self.domain = self.checks.domain
        # Where each chosen agent's mail goes, asked of the agents when the page opens.
        self.modes: dict[int, DeliveryMode] | None = None
        self.delivery = QLabel("")
        self.delivery.setWordWrap(True)
        page = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Campaign name", self.name)
        form.addRow(self.summary)
        form.addRow("Delivery", self.delivery)
        page.addLayout(form)
        # Below the form, not in it: a form row clips a panel whose height follows its width.
        page.addWidget(self.checks)
        self.test_send = TestSendBox(wizard.engine, wizard.workspace_id, wizard.runner,
                                     self._test_message)  # fmt: skip
        page.addWidget(self.test_send)
        page.addStretch(1)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Send")

    def initializePage(self) -> None:
        """Summarise the earlier pages."""
        w = self.w
        n = w.audience_page.recipients
        chosen = w.delivery_page.chosen()
        total = sum(weight for _, weight in chosen) or 1
        names = {r.id: r.name for r in w.records}
        split = ", ".join(f"{names[a]} {n * weight // total:,}" for a, weight in chosen)
        throttle = w.delivery_page.throttle.value()
        start = w.delivery_page.start_at()
        per_recipient = estimate_minutes(1, [w.rates.get(a, 0.0) for a, _ in chosen], throttle)
        finish = self.finish_text(n, per_recipient, start)
        when = (
            "now"
            if start is None
            else (f"{w.delivery_page.start.text()} ({w.delivery_page.zone.currentText()})")
        )
        sender = w.sender_page
        self.when = when
        self.summary.setText(
            f"<p><b>{n:,}</b> {plural(n, 'recipient')}: {split}.</p>"
            f"<p>Subject: {_escape(w.content_page.subject.text())}<br>"
            f"From: {_escape(sender.from_name.text())} "
            f"&lt;{_escape(sender.from_address.text())}&gt;</p>"
            f"<p>Start: {when}. Throttle: {throttle_text(throttle)}. "
            f"Send window: {self.window_text()}. Estimated finish: {finish}.</p>"
            + (f"<p>A/B test: {_escape(self.ab_text())}</p>" if w.ab_page.plan() else "")
        )
        if not self.name.text():
            self.name.setText(w.content_page.subject.text()[:100])
        self._run_checks()
        self.spam.check()
        chosen_records = [r for r in w.records if r.id in dict(chosen)]
        self._ask_delivery(chosen_records)
        self.checks.check_from(w.runner, chosen_records, sender.from_address.text())
        self.test_send.offer(w.audience_page.audience(), chosen[0][0] if chosen else None)

    def window_text(self) -> str:
        """The send window in words: "any hour" or "weekdays 08:00-20:00 (Europe/Berlin)"."""
        window = self.w.delivery_page.send_window()
        return "any hour" if window is None else window.text()

    def ab_text(self) -> str:
        """The A/B test in one sentence, or "none"."""
        plan = self.w.ab_page.plan()
        return "none" if plan is None else plan.summary(self.w.audience_page.recipients)

    def finish_text(self, n: int, per_recipient: float | None, start: datetime | None) -> str:
        """When the last message goes, inside the send window and after an A/B test's wait."""
        if per_recipient is None:
            return "unknown until the agents report a sending rate"
        plan, window = self.w.ab_page.plan(), self.w.delivery_page.send_window()
        if plan is None and window is None:
            return f"about {n * per_recipient:,.0f} minutes after the start"
        at = finish_at(start or datetime.now(UTC), n, per_recipient, window, plan)
        if at is None:
            return "more than a year away: the send window leaves too little time"
        if plan is not None and plan.rule is Rule.MANUAL and plan.test_percent < 100:
            return f"the test share by {dates.show(at)}; the rest once you pick the winner"
        return f"around {dates.show(at)}"

    def _ask_delivery(self, records: list[AgentRecord]) -> None:
        self.modes = None
        self.delivery.setText("Asking the agents…")

        def work(_task: Task[dict[int, DeliveryMode]]) -> dict[int, DeliveryMode]:
            return {r.id: delivery_mode(r) for r in records}

        def done(modes: dict[int, DeliveryMode]) -> None:
            self.modes = modes
            self.delivery.setText(self.delivery_text())

        self.w.runner.run("Asking the agents how they deliver", work, done, network=True)

    def delivery_text(self) -> str:
        """Where the mail goes: captured on the agents, or delivered to the recipients."""
        if self.modes is None:
            return "Not known yet: the agents have not answered."
        names = {r.id: r.name for r in self.w.records}
        found = set(self.modes.values())
        if found == {DeliveryMode.CAPTURE}:
            return "Capture: the agents keep every message, nothing leaves this machine."
        if found == {DeliveryMode.REAL}:
            return "Real delivery: the messages go to the recipients."
        words = {
            DeliveryMode.CAPTURE: "captured, nothing leaves the agent",
            DeliveryMode.REAL: "real delivery to the recipients",
            DeliveryMode.UNKNOWN: "not known (the agent did not say)",
        }
        return "; ".join(f"{names[a]}: {words[m]}" for a, m in self.modes.items()) + "."

    def signing(self) -> str:
        """Whether the chosen agents DKIM-sign mail from the From domain, as they report it."""
        domain, signed, known = self.from_domain_state()
        if not domain or not known:
            return "DKIM: not reported by the agents."
        if signed:
            return f"DKIM: {domain} is signed."
        by = " by every agent" if known > 1 else ""
        return (
            f"DKIM: {domain} is not signed{by}; receivers may treat the mail as spam "
            "(create its key under Agents → Sending domains…)."
        )

    def from_domain_state(self) -> tuple[str, bool, int]:
        """(the From domain, whether every chosen agent that reports DKIM signs it, how many
        of the chosen agents report DKIM)."""
        address = self.w.sender_page.from_address.text().strip()
        domain = address.rpartition("@")[2].lower()
        chosen = dict(self.w.delivery_page.chosen())
        reports = [self.w.statuses.get(a) for a in chosen]
        known = [st.domains for st in reports if st is not None and st.domains is not None]
        matches = [next((d for d in ds if d.domain == domain), None) for ds in known]
        signed = bool(matches) and all(d is not None and d.signs for d in matches)
        return domain, signed, len(known)

    @property
    def domain_warnings(self) -> list[str] | None:
        """What the checks found wrong with the From domain; None until the agents answered."""
        found = self.checks.domain_findings
        return None if found is None else [f.message for f in found]

    def _test_message(self) -> tuple[str, str, str, str]:
        """(subject, html, text, From address) of the campaign, for a test send."""
        content = self.w.content_page
        return (
            content.subject.text(),
            content.html.toPlainText(),
            content.text.toPlainText(),
            self.w.sender_page.from_address.text().strip(),
        )

    def _spam_message(self) -> Callable[[], bytes]:
        """How to render the campaign's message, from its sender, for SpamAssassin to score."""
        content, sender = self.w.content_page, self.w.sender_page.from_address.text().strip()
        subject, html, text = (
            content.subject.text(),
            content.html.toPlainText(),
            content.text.toPlainText(),
        )
        return lambda: templates.message_bytes(subject, html, text, "someone@example.com", "",
                                               {}, sender)  # fmt: skip

    def _run_checks(self) -> None:
        w = self.w
        content = w.content_page
        subject, html, text = (
            content.subject.text(),
            content.html.toPlainText(),
            (content.text.toPlainText()),
        )
        audience, engine, ws = w.audience_page.audience(), w.engine, w.workspace_id
        self.checks.show_pending()
        self.completeChanged.emit()

        def done(found: list[Finding]) -> None:
            self.checks.show_findings(found)
            self.completeChanged.emit()

        w.runner.read(
            engine,
            "Checking the content",
            lambda c: templates.checks(c, ws, subject, html, text, audience),
            done,
        )

    def isComplete(self) -> bool:
        """A name, and checks done without errors (warnings do not block)."""
        return bool(self.name.text().strip()) and not self.checks.blocked()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class _Choices:
    """What the wizard offers: the workspace's lists, saved segments and templates."""

    lists: list[tuple[int, str]]
    segments: list[tuple[int, str, dict[str, Any]]]
    templates: list[templates.TemplateRow]
    broken: frozenset[int]  # the templates whose checks find an error

    @classmethod
    def read(cls, conn: Connection, workspace_id: int) -> _Choices:
        saved = templates.list_templates(conn, workspace_id)
        keys = [f.key for f in fields.list_fields(conn, workspace_id)]
        broken = frozenset(
            t.id
            for t in saved
            if any(f.blocks for f in check_content(t.subject, t.html, t.text, keys))
        )
        return cls(
            workspaces.lists(conn, workspace_id), segments.saved(conn, workspace_id), saved, broken
        )


class CampaignWizard(QWizard):
    """Collects a campaign; on Send it is saved (state first) and ``created`` is emitted."""

    created = Signal(int)
    draft_saved = Signal(int)  # the draft this wizard edits was saved (its id)

    def __init__(
        self,
        engine: Engine,
        workspace_id: int,
        runner: TaskRunner,
        records: list[AgentRecord],
        rates: dict[int, float] | None = None,
        parent: QWidget | None = None,
        statuses: dict[int, AgentStatus] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New campaign")
        self.resize(760, 600)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = runner
        self.rates = rates or {}
        self.statuses = statuses or {}
        self.records = records
        self.confirm: QMessageBox | None = None
        # The saved draft this wizard edits (sending replaces it), and its values to show.
        self.replaces: int | None = None
        self._draft: Draft | None = None
        self.audience_page = AudiencePage(self)
        self.content_page = ContentPage()
        self.sender_page = SenderPage()
        self.ab_page = AbTestPage(self, self.content_page.ab_option)
        self.delivery_page = DeliveryPage(self)
        self.review_page = ReviewPage(self)
        for page in (
            self.audience_page,
            self.content_page,
            self.sender_page,
            self.ab_page,
            self.delivery_page,
            self.review_page,
        ):
            self.addPage(page)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b00020")
        self.setSideWidget(self.error)
        runner.read(engine, "Reading lists, segments and templates",
                    lambda c: _Choices.read(c, workspace_id), self._loaded)  # fmt: skip

    def nextId(self) -> int:
        """The page after this one; the A/B test page only when the test is ticked."""
        following = super().nextId()
        if self.page(following) is self.ab_page and not self.content_page.ab_option.isChecked():
            return following + 1
        return following

    def own_content(self) -> tuple[str, str, str, str]:
        """The Content and Sender pages' subject, From name, HTML and text."""
        content = self.content_page
        return (
            content.subject.text(),
            self.sender_page.from_name.text(),
            content.html.toPlainText(),
            content.text.toPlainText(),
        )

    def usable_templates(self) -> list[templates.TemplateRow]:
        """The saved templates without errors, for an A/B test's content variants."""
        return [t for t in self.content_page.saved if t.id not in self.content_page.broken]

    def recipients(self) -> int:
        """The audience's count, as the Audience page last counted it."""
        return self.audience_page.recipients

    def _loaded(self, choices: _Choices) -> None:
        self.audience_page.fill(choices.lists, choices.segments)
        self.content_page.fill(choices.templates, choices.broken)
        if self._draft is not None:
            self.audience_page.check(self._draft.audience)

    def edit_draft(self, draft_id: int, draft: Draft) -> None:
        """Show a saved draft's values; Send then sends it (and the draft goes)."""
        self.replaces, self._draft = draft_id, draft
        self.setWindowTitle(f"Campaign draft: {draft.name}")
        content, sender, delivery = self.content_page, self.sender_page, self.delivery_page
        content.subject.setText(draft.subject)
        content.html.setPlainText(draft.html)
        content.text.setPlainText(draft.text)
        sender.from_name.setText(draft.from_name)
        sender.from_address.setText(draft.from_address)
        sender.reply_to.setText(draft.reply_to)
        sender.language.setCurrentIndex(max(0, sender.language.findData(draft.language)))
        delivery.throttle.setValue(draft.throttle_per_minute)
        delivery.choose(draft.agents)
        delivery.window_box.show_window(draft.send_window)
        self.ab_page.show_plan(draft.ab_test)
        if delivery.zone.findText(draft.time_zone) < 0:
            delivery.zone.addItem(draft.time_zone)
        delivery.zone.setCurrentText(draft.time_zone)
        if draft.start_at is not None:
            delivery.later.setChecked(True)
            zone = QTimeZone(draft.time_zone.encode())
            start = QDateTime.fromSecsSinceEpoch(int(draft.start_at.timestamp()), zone)
            # The editor holds the wall-clock time in the chosen zone (see start_at).
            delivery.start.setDate(start.date())
            delivery.start.setTime(start.time())
        self.review_page.name.setText(draft.name)
        self.setOption(QWizard.WizardOption.HaveCustomButton1, True)
        self.setButtonText(QWizard.WizardButton.CustomButton1, "Save draft")
        self.customButtonClicked.connect(lambda _which: self.save_draft())
        if self.audience_page.choices.count():  # the choices are already there
            self.audience_page.check(draft.audience)

    def draft(self) -> Draft:
        """The campaign as entered."""
        content, sender, delivery = self.content_page, self.sender_page, self.delivery_page
        return Draft(
            name=self.review_page.name.text().strip(),
            audience=self.audience_page.audience(),
            subject=content.subject.text(),
            html=content.html.toPlainText(),
            text=content.text.toPlainText(),
            from_name=sender.from_name.text().strip(),
            from_address=sender.from_address.text().strip(),
            reply_to=sender.reply_to.text().strip(),
            language=sender.language.currentData(),
            throttle_per_minute=delivery.throttle.value(),
            start_at=delivery.start_at(),
            time_zone=delivery.zone.currentText(),
            agents=delivery.chosen(),
            ab_test=self.ab_page.plan(),
            send_window=delivery.send_window(),
        )

    def save_draft(self) -> None:
        """Keep what is entered in the draft and close, sending nothing."""
        draft_id, draft = self.replaces, self.draft()
        if draft_id is None:
            return
        if not self.audience_page.loaded and self._draft is not None:
            # Saved before the choices arrived: the audience is still the draft's.
            draft = dataclasses.replace(draft, audience=self._draft.audience)
        self.error.setText("Saving the draft…")

        def done(_: None) -> None:
            self.draft_saved.emit(draft_id)
            QWizard.reject(self)

        self.runner.write(self.engine, "Saving a draft",
                          lambda c: campaigns.save_draft(c, self.workspace_id, draft_id, draft),
                          done, on_error=lambda exc: self.error.setText(explain(exc)))  # fmt: skip

    def accept(self) -> None:
        """Ask once, with what is about to happen; then save and send."""
        review = self.review_page
        draft = self.draft()
        n = self.audience_page.recipients
        names = {r.id: r.name for r in self.records}
        agents = ", ".join(names[a] for a, _ in draft.agents)
        sender = draft.from_address
        if draft.from_name:
            sender = f"{draft.from_name} <{sender}>"
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Send the campaign?")
        box.setText(f"Send “{draft.name}” to {counted(n, 'recipient')}?")
        box.setInformativeText(
            f"Through: {agents}\nFrom: {sender}\nSubject: {draft.subject}\n"
            f"Start: {review.when}\nSend window: {review.window_text()}\n"
            f"A/B test: {review.ab_text()}\n{review.delivery_text()}\n{review.signing()}\n\n"
            "Once sent, a message cannot be called back."
        )
        send = box.addButton("Send", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Go back", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(send)

        def clicked(button: object) -> None:
            if button is send:
                self._save(draft)

        box.buttonClicked.connect(clicked)
        self.confirm = box
        box.open()

    def _save(self, draft: Draft) -> None:
        """Save the campaign in the background; close when it is saved, else show why not."""
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        self.error.setText("Saving…")

        def work(task: Task[int]) -> int:
            return campaigns.create(self.engine, self.workspace_id, draft, self.replaces)

        def failed(exc: Exception) -> None:
            self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
            self.error.setText(explain(exc))

        def done(campaign_id: int) -> None:
            self.created.emit(campaign_id)
            super(CampaignWizard, self).accept()

        self.runner.run("Saving the campaign", work, done, on_error=failed, write=True)
