"""The campaign wizard's A/B test page: 2-4 variants of the subject, the From name or the
content, the share of the audience that tries them, and how the winner is picked."""

from __future__ import annotations

from typing import Protocol

from mailfleet.desktop.services import templates
from mailfleet.desktop.services.ab_tests import LETTERS, MAX_WAIT_HOURS, AbPlan, Rule, Variant, Vary
from mailfleet.desktop.ui.qt import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
    QWizardPage,
)

VARY_CHOICES = (
    ("Subject", Vary.SUBJECT),
    ("From name", Vary.FROM_NAME),
    ("Content (a saved template)", Vary.CONTENT),
)
RULE_CHOICES = (
    ("the most clicks", Rule.CLICKS),
    ("the most opens", Rule.OPENS),
    ("my pick: I choose it in the results", Rule.MANUAL),
)
OWN_CONTENT = "The message on the Content page"


class WizardFacts(Protocol):
    """What the page reads of the wizard's other pages."""

    def own_content(self) -> tuple[str, str, str, str]:
        """The Content and Sender pages' subject, From name, HTML and text."""
        ...

    def usable_templates(self) -> list[templates.TemplateRow]:
        """The saved templates a variant may use (none with errors)."""
        ...

    def recipients(self) -> int:
        """How many recipients the audience has."""
        ...


class AbTestPage(QWizardPage):
    """Optional: off, every recipient gets the one message of the earlier pages."""

    def __init__(self, facts: WizardFacts, option: QCheckBox) -> None:
        """``option`` is the tick box (on an earlier page) that turns the test on; the wizard
        shows this page only while it is ticked."""
        super().__init__()
        self.facts = facts
        self.setTitle("A/B test")
        self.setSubTitle(
            "Optional: try variants on part of the audience, then send the rest the winner."
        )
        self.enabled = option
        self.vary = QComboBox()
        for text, value in VARY_CHOICES:
            self.vary.addItem(text, value)
        self.count = QSpinBox()
        self.count.setRange(2, len(LETTERS))
        self.count.setSuffix(" variants")
        self.lines: list[QLineEdit] = []
        self.templates: list[QComboBox] = []
        grid_box = QWidget()
        grid = QGridLayout(grid_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.letters: list[QLabel] = []
        for row, letter in enumerate(LETTERS):
            label = QLabel(f"Variant {letter}")
            line = QLineEdit()
            line.textChanged.connect(self._changed)
            combo = QComboBox()
            combo.currentIndexChanged.connect(self._changed)
            grid.addWidget(label, row, 0)
            grid.addWidget(line, row, 1)
            grid.addWidget(combo, row, 2)
            self.letters.append(label)
            self.lines.append(line)
            self.templates.append(combo)
        self.percent = QSpinBox()
        self.percent.setRange(1, 100)
        self.percent.setValue(20)
        self.percent.setSuffix(" % of the recipients")
        self.rule = QComboBox()
        for text, rule in RULE_CHOICES:
            self.rule.addItem(text, rule)
        self.hours = QSpinBox()
        self.hours.setRange(1, MAX_WAIT_HOURS)
        self.hours.setValue(4)
        self.hours.setSuffix(" hours after the start")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #b00020")
        self.enabled.toggled.connect(self._changed)
        for spin in (self.count, self.percent, self.hours):
            spin.valueChanged.connect(self._changed)
        for choice in (self.vary, self.rule):
            choice.currentIndexChanged.connect(self._changed)
        form = QFormLayout(self)
        form.addRow("What to vary", self.vary)
        form.addRow("How many", self.count)
        form.addRow(grid_box)
        form.addRow("Test share", self.percent)
        form.addRow("Winner", self.rule)
        form.addRow("Picked", self.hours)
        form.addRow(self.summary)
        form.addRow(self.problem)
        self._pending: AbPlan | None = None  # a draft's test, shown once the page opens
        self._show_rows()

    def initializePage(self) -> None:
        """Offer the saved templates; fill variant A with the earlier pages' values."""
        subject, from_name, _html, _text = self.facts.own_content()
        for combo in self.templates:
            chosen = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(OWN_CONTENT, None)
            for t in self.facts.usable_templates():
                combo.addItem(t.name, t.id)
            combo.setCurrentIndex(max(0, combo.findText(chosen)))
            combo.blockSignals(False)
        if self._pending is not None:
            self._apply(self._pending)
            self._pending = None
        elif not self.lines[0].text():
            own = subject if self._vary() is Vary.SUBJECT else from_name
            self.lines[0].setText(own)
        self._changed()

    def show_plan(self, plan: AbPlan | None) -> None:
        """Show a saved draft's test (or none) when the page opens."""
        self.enabled.setChecked(plan is not None)
        self._pending = plan

    def _apply(self, plan: AbPlan) -> None:
        self.vary.setCurrentIndex(max(0, self.vary.findData(plan.vary)))
        self.count.setValue(len(plan.variants))
        for line, combo, v in zip(self.lines, self.templates, plan.variants, strict=False):
            line.setText(v.subject if plan.vary is Vary.SUBJECT else v.from_name)
            combo.setCurrentIndex(max(0, combo.findText(v.label)))
        self.percent.setValue(plan.test_percent)
        self.rule.setCurrentIndex(max(0, self.rule.findData(plan.rule)))
        self.hours.setValue(plan.wait_hours)

    def _vary(self) -> Vary:
        return Vary(self.vary.currentData())

    def _show_rows(self) -> None:
        on, content = self.enabled.isChecked(), self._vary() is Vary.CONTENT
        for widget in (self.vary, self.count, self.percent, self.rule):
            widget.setEnabled(on)
        self.hours.setEnabled(on and Rule(self.rule.currentData()) is not Rule.MANUAL)
        for row, (label, line, combo) in enumerate(
            zip(self.letters, self.lines, self.templates, strict=True)
        ):
            shown = on and row < self.count.value()
            label.setVisible(shown)
            line.setVisible(shown and not content)
            combo.setVisible(shown and content)

    def _changed(self, *_: object) -> None:
        self._show_rows()
        plan = self.plan()
        problem = plan.problem() if plan is not None else None
        self.problem.setText(f"⚠ {problem[0].upper()}{problem[1:]}." if problem else "")
        self.summary.setText(
            plan.summary(self.facts.recipients())
            if plan is not None
            else "Off: every recipient gets the message of the earlier pages."
        )
        self.completeChanged.emit()

    def plan(self) -> AbPlan | None:
        """The test as entered; None when the page is off."""
        if not self.enabled.isChecked():
            return None
        vary = self._vary()
        variants = tuple(self._variant(vary, row) for row in range(self.count.value()))
        rule = Rule(self.rule.currentData())
        return AbPlan(vary, variants, self.percent.value(), rule, self.hours.value())

    def _variant(self, vary: Vary, row: int) -> Variant:
        if vary is Vary.SUBJECT:
            return Variant(subject=self.lines[row].text().strip())
        if vary is Vary.FROM_NAME:
            return Variant(from_name=self.lines[row].text().strip())
        combo = self.templates[row]
        chosen = next(
            (t for t in self.facts.usable_templates() if t.id == combo.currentData()), None
        )
        if chosen is None:
            _subject, _from, html, text = self.facts.own_content()
            return Variant(html=html, text=text, label=OWN_CONTENT)
        return Variant(html=chosen.html, text=chosen.text, label=chosen.name)

    def isComplete(self) -> bool:
        """Off, or a test the agents will take."""
        plan = self.plan()
        return plan is None or plan.problem() is None
