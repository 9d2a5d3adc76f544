"""The pre-send checks panel: each finding with its fix, errors (which block sending) first,
under a one-line summary; then the From domain's DKIM, SPF and DMARC (asked of the agents in
the background), and what the page puts below (the spam score). Shared by the templates page
and the campaign wizard's review page."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from mailfleet.desktop.agents import from_domain
from mailfleet.desktop.agents.registry import AgentRecord
from mailfleet.desktop.services.content_checks import WARNING, Finding
from mailfleet.desktop.services.plurals import counted, plural
from mailfleet.desktop.ui.messages import explain
from mailfleet.desktop.ui.qt import (
    QApplication,
    QFrame,
    QLabel,
    QPalette,
    Qt,
    QVBoxLayout,
    QWidget,
    isValid,
)
from mailfleet.desktop.ui.tasks import Latest, Task, TaskRunner

MARKS = {"error": "✖", "warning": "⚠"}


def summary(findings: list[Finding]) -> str:
    """ "✖ 2 errors block sending · ⚠ 1 warning", or "✔ All checks passed."."""
    errors = sum(f.blocks for f in findings)
    warnings = len(findings) - errors
    parts = []
    if errors:
        parts.append(f"✖ {counted(errors, 'error')} {plural(errors, 'blocks', 'block')} sending")
    if warnings:
        parts.append(f"⚠ {counted(warnings, 'warning')}")
    return " · ".join(parts) or "✔ All checks passed."


def _rich_label() -> QLabel:
    label = QLabel("")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _lines(findings: list[Finding]) -> str:
    """Each finding as a paragraph, its fix in the muted colour below it (rich text)."""
    muted = QApplication.palette().color(QPalette.ColorRole.PlaceholderText).name()
    return "".join(
        f"<p>{MARKS[f.level]} {escape(f.message)}"
        + (f"<br><span style='color:{muted}'>{escape(f.fix)}</span>" if f.fix else "")
        + "</p>"
        for f in findings
    )


class ChecksPanel(QFrame):
    """The findings of the checks, or what is being checked while they run; ``below`` are
    shown under them, in the same card."""

    def __init__(self, *below: QWidget) -> None:
        super().__init__()
        self.setObjectName("card")
        self.findings: list[Finding] | None = None  # None while the checks run
        # The From domain's findings; None until asked, or while the agents are asked.
        self.domain_findings: list[Finding] | None = None
        self._domains = Latest()
        self.title = QLabel("<b>Checks</b>")
        self.list = _rich_label()
        self.domain_title = QLabel("<b>From domain</b>")
        self.domain = _rich_label()
        for label in (self.domain_title, self.domain):
            label.hide()  # until a From address is checked
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addWidget(self.domain_title)
        layout.addWidget(self.domain)
        for widget in below:
            layout.addWidget(widget)

    def show_pending(self, what: str = "Checking the content…") -> None:
        """Say the checks are running; nothing is known until they end."""
        self.findings = None
        self.title.setText("<b>Checks</b>")
        self.list.setText(escape(what))

    def show_findings(self, findings: list[Finding]) -> None:
        """Show these findings, each with its fix in the muted colour below it."""
        self.findings = findings
        self.title.setText(f"<b>Checks</b> — {escape(summary(findings))}")
        self.list.setText(_lines(findings))

    def check_from(
        self, runner: TaskRunner, records: Sequence[AgentRecord], from_address: str
    ) -> None:
        """Ask ``records`` (the agents that will send) about the From domain of
        ``from_address`` in the background, and show what they say; nothing without a From."""
        domain = from_domain.domain_of(from_address)
        self.domain_findings = None
        for label in (self.domain_title, self.domain):
            label.setVisible(bool(domain))
        if not domain:
            return
        if not records:
            self._show_domain(domain, [Finding(WARNING, f"{domain} is not checked: no agent is "
                              "chosen to send.", "Pair an agent under Agents.")])  # fmt: skip
            return
        self.domain.setText(escape(f"Asking the agents about {domain}…"))

        def shown(found: list[Finding]) -> None:
            self._show_domain(domain, found)

        show = self._domains.only(shown)

        def work(_task: Task[list[Finding]]) -> list[Finding]:
            return from_domain.findings(records, from_address)

        def failed(exc: Exception) -> None:
            show([Finding(WARNING, f"{domain} is not checked: {explain(exc)}",
                          "Check that the agents are running, then look again.")])  # fmt: skip

        runner.run("Checking the From domain", work, show, on_error=failed, network=True)

    def _show_domain(self, domain: str, found: list[Finding]) -> None:
        if not isValid(self):  # the page was closed while the agents were asked
            return
        self.domain_findings = found
        self.domain.setText(
            _lines(found) or f"✔ {escape(domain)} is DKIM-signed and publishes SPF and DMARC."
        )

    def blocked(self) -> bool:
        """Whether sending must wait: the checks are running or found an error."""
        return self.findings is None or any(f.blocks for f in self.findings)

    def text(self) -> str:
        """Everything the panel says, as plain text (what a screen reader reads)."""
        if self.findings is None:
            return self.list.text()
        return "\n".join([summary(self.findings), *map(_plain, self.findings)])

    def domain_text(self) -> str:
        """What the From domain's checks say, as plain text; "" until the agents answered."""
        return "\n".join(map(_plain, self.domain_findings or ()))


def _plain(finding: Finding) -> str:
    return f"{MARKS[finding.level]} {finding.message} {finding.fix}".rstrip()
