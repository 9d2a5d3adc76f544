"""The main window: a sidebar of pages, shortcuts and a status bar for background work."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from desktop.ui.agents_page import AgentsPage
from desktop.ui.analytics_page import AnalyticsPage
from desktop.ui.campaigns_page import CampaignsPage
from desktop.ui.contacts_page import ContactsPage
from desktop.ui.dashboard_page import DashboardPage
from desktop.ui.fleet_sync import FleetSync
from desktop.ui.import_wizard import ImportWizard
from desktop.ui.qt import (
    QAction,
    QByteArray,
    QCloseEvent,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QListWidget,
    QMainWindow,
    QProgressBar,
    QSettings,
    QStackedWidget,
    QWidget,
)
from desktop.ui.segment_builder import SegmentBuilder
from desktop.ui.simple_pages import SettingsPage
from desktop.ui.suppression_page import SuppressionPage
from desktop.ui.tasks import TaskRunner
from desktop.ui.templates_page import TemplatesPage

PAGES = ("Dashboard", "Contacts", "Segments", "Templates", "Campaigns", "Analytics",
         "Suppression", "Agents", "Settings")  # fmt: skip
GEOMETRY_KEY = "window/geometry"


class MainWindow(QMainWindow):
    """The Mailfleet desktop window for one workspace."""

    def __init__(self, engine: Engine, workspace_id: int, workspace_name: str,
                 settings: QSettings, local_agent_dir: Path | None = None,
                 running_local_agent: Path | None = None) -> None:  # fmt: skip
        """``running_local_agent`` is the data directory of a local agent already running
        (``make run``): it is paired, and no second local agent is offered."""
        super().__init__()
        self.setWindowTitle(f"Mailfleet — {workspace_name}")
        self.settings = settings
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = TaskRunner(self)
        self.sync = FleetSync(engine, workspace_id, self)
        self.sidebar = QListWidget()
        self.sidebar.addItems(list(PAGES))
        self.sidebar.setFixedWidth(160)
        self.stack = QStackedWidget()
        self.contacts = ContactsPage(engine, workspace_id, self.runner)
        self.segments = SegmentBuilder(engine, workspace_id, self.runner)
        self.suppression = SuppressionPage(engine, workspace_id, self.runner)
        self.agents = AgentsPage(engine, workspace_id, self.runner, self.sync, local_agent_dir,
                                 running_local_agent)  # fmt: skip
        self.templates = TemplatesPage(engine, workspace_id, self.runner)
        self.campaigns = CampaignsPage(engine, workspace_id, self.runner, self.sync, self.agents)
        self.dashboard = DashboardPage(engine, workspace_id, self.runner,
                                       self.campaigns.run_control)  # fmt: skip
        self.analytics = AnalyticsPage(engine, workspace_id, self.runner)
        self.settings_page = SettingsPage(
            settings, engine.url.render_as_string(hide_password=True), workspace_name
        )
        pages: dict[str, QWidget] = {
            "Dashboard": self.dashboard,
            "Templates": self.templates,
            "Campaigns": self.campaigns,
            "Analytics": self.analytics,
            "Contacts": self.contacts,
            "Segments": self.segments,
            "Suppression": self.suppression,
            "Agents": self.agents,
            "Settings": self.settings_page,
        }
        for name in PAGES:
            self.stack.addWidget(pages[name])
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.segments.saved.connect(self.contacts.refresh)
        self.sync.applied.connect(self.dashboard.events_applied)
        self.campaigns.open_dashboard.connect(self._open_dashboard)
        self.campaigns.campaign_changed.connect(lambda _c: self.dashboard.refresh())
        self.agents.paired.connect(lambda _r: self.templates.refresh())
        self.suppression.changed.connect(self.sync.push_suppressions)
        self.sync.pushed.connect(lambda _agent, _result: self.suppression.refresh_agents())
        central = QWidget()
        row = QHBoxLayout(central)
        row.addWidget(self.sidebar)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.busy_label = QLabel("")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.hide()
        self.statusBar().addWidget(self.busy_label, 1)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.runner.busy_changed.connect(self._busy)
        self._actions()
        self.go("Contacts")
        self.agents.loaded.connect(self.sync.follow_all)
        self.agents.resume_local()
        self.campaigns.resume_uploads()
        geometry = settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 700)

    def _actions(self) -> None:
        def add(text: str, shortcut: QKeySequence.StandardKey | str, slot: object) -> QAction:
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            self.addAction(action)
            return action

        for number, name in enumerate(PAGES, start=1):
            add(f"Go to {name}", f"Ctrl+{number}", lambda _=False, n=name: self.go(n))
        self.import_action = add("Import contacts…", "Ctrl+I", self.open_import)
        add("Find", QKeySequence.StandardKey.Find, self._find)
        add("Refresh", QKeySequence.StandardKey.Refresh, self.refresh)
        add("Quit", QKeySequence.StandardKey.Quit, self.close)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.addAction(self.import_action)

    def go(self, name: str) -> None:
        """Show the page called ``name``."""
        self.sidebar.setCurrentRow(PAGES.index(name))

    def _open_dashboard(self, campaign_id: int) -> None:
        self.dashboard.show_campaign(campaign_id)
        self.go("Dashboard")

    def _find(self) -> None:
        self.go("Contacts")
        self.contacts.focus_search()

    def refresh(self) -> None:
        """Reload the data pages."""
        self.contacts.refresh()
        self.segments.refresh()
        self.suppression.refresh()
        self.campaigns.refresh()
        self.dashboard.refresh()

    def open_import(self) -> ImportWizard:
        """Open the import wizard (non-modal); the contacts reload after an import."""
        wizard = ImportWizard(self.engine, self.workspace_id, self.runner, self)
        wizard.imported.connect(self.refresh)
        wizard.show()
        return wizard

    def _busy(self, running: int, description: str) -> None:
        self.busy_bar.setVisible(running > 0)
        self.busy_label.setText(f"{description}…" if running else "Ready")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the window geometry; stop background work (an import rolls back)."""
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.sync()
        self.runner.cancel_all()
        self.campaigns.stop_uploads()
        self.agents.shutdown()
        super().closeEvent(event)
