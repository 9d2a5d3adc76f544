"""The main window: a sidebar of pages, a menu bar with the shortcuts, and a status bar for
background work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from mailfleet.desktop.services import audit_log
from mailfleet.desktop.services.people import NotAllowed, PersonRecord, as_seat, check_change
from mailfleet.desktop.ui import roles, theme
from mailfleet.desktop.ui.agents_page import AgentsPage
from mailfleet.desktop.ui.analytics_page import AnalyticsPage
from mailfleet.desktop.ui.audience_page import AudiencePage
from mailfleet.desktop.ui.audit_page import AuditPage
from mailfleet.desktop.ui.auto_refresh import AutoRefresh
from mailfleet.desktop.ui.automations_page import AutomationsPage
from mailfleet.desktop.ui.campaigns_page import CampaignsPage
from mailfleet.desktop.ui.contacts_page import ContactsPage
from mailfleet.desktop.ui.dashboard_page import DashboardPage
from mailfleet.desktop.ui.fleet_sync import FleetSync
from mailfleet.desktop.ui.import_wizard import ImportWizard
from mailfleet.desktop.ui.people_page import PeoplePage
from mailfleet.desktop.ui.qt import (
    QAction,
    QByteArray,
    QCloseEvent,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSettings,
    QStackedWidget,
    QWidget,
)
from mailfleet.desktop.ui.retention import RetentionPass, RetentionSetting
from mailfleet.desktop.ui.seat import remember, sit_down
from mailfleet.desktop.ui.segment_builder import SegmentBuilder
from mailfleet.desktop.ui.sidebar import Sidebar
from mailfleet.desktop.ui.signup_forms_page import SignupFormsPage
from mailfleet.desktop.ui.simple_pages import SettingsPage
from mailfleet.desktop.ui.spam_check import SpamdSetting
from mailfleet.desktop.ui.suppression_page import SuppressionPage
from mailfleet.desktop.ui.tasks import TaskRunner
from mailfleet.desktop.ui.templates_page import TemplatesPage
from mailfleet.desktop.ui.theme import CHOICES as THEME_CHOICES
from mailfleet.desktop.ui.theme import Theme

PAGES = ("Dashboard", "Contacts", "Segments", "Signup forms", "Templates", "Campaigns",
         "Automations", "Analytics", "Suppression", "Agents", "Settings",
         "Audience overview", "People", "Audit log")  # fmt: skip
# Ctrl+1 … Ctrl+9 open these pages; pages added later have a shortcut of their own, so that
# every other page kept the one people know.
LATER_SHORTCUTS = {"Signup forms": "Ctrl+Shift+F", "Audience overview": "Ctrl+Shift+A",
                   "Automations": "Ctrl+Shift+U", "People": "Ctrl+Shift+P",
                   "Audit log": "Ctrl+Shift+L"}
SHORTCUT_PAGES = tuple(p for p in PAGES if p not in LATER_SHORTCUTS)
GEOMETRY_KEY = "window/geometry"
log = logging.getLogger("mailfleet.desktop")


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
        # Every connection of this window acts for the person this desktop is (its seat).
        self.seat = sit_down(engine, workspace_id, settings)
        engine = as_seat(engine, self.seat)
        self.engine = engine
        self.workspace_id = workspace_id
        self.runner = TaskRunner(self)
        self.runner.on_write = self._audit_write
        self.runner.before_write = lambda _what: check_change(self.seat)
        self.sync = FleetSync(engine, workspace_id, self)
        self.theme = Theme(settings, self)
        self.stack = QStackedWidget()
        self.contacts = ContactsPage(engine, workspace_id, self.runner)
        self.segments = SegmentBuilder(engine, workspace_id, self.runner)
        self.suppression = SuppressionPage(engine, workspace_id, self.runner)
        self.signup_forms = SignupFormsPage(engine, workspace_id, self.runner, self.sync)
        self.agents = AgentsPage(engine, workspace_id, self.runner, self.sync, local_agent_dir,
                                 running_local_agent)  # fmt: skip
        self.templates = TemplatesPage(engine, workspace_id, self.runner)
        self.campaigns = CampaignsPage(engine, workspace_id, self.runner, self.sync, self.agents)
        self.dashboard = DashboardPage(engine, workspace_id, self.runner,
                                       self.campaigns.run_control,
                                       lambda: self.campaigns.stalled)  # fmt: skip
        self.analytics = AnalyticsPage(engine, workspace_id, self.runner)
        self.audience = AudiencePage(engine, workspace_id, self.runner)
        self.automations = AutomationsPage(engine, workspace_id, self.runner)
        self.people = PeoplePage(engine, workspace_id, self.runner)
        self.audit = AuditPage(engine, workspace_id, self.runner)
        self.retention = RetentionPass(engine, workspace_id, self.runner, self)
        self.retention_setting = RetentionSetting(engine, workspace_id, self.runner,
                                                  self.retention)  # fmt: skip
        self.settings_page = SettingsPage(
            settings,
            engine.url.render_as_string(hide_password=True),
            workspace_name,
            self.retention_setting,
            SpamdSetting(engine, workspace_id, self.runner),
        )
        pages: dict[str, QWidget] = {
            "Dashboard": self.dashboard,
            "Templates": self.templates,
            "Campaigns": self.campaigns,
            "Automations": self.automations,
            "Analytics": self.analytics,
            "Contacts": self.contacts,
            "Segments": self.segments,
            "Signup forms": self.signup_forms,
            "Suppression": self.suppression,
            "Agents": self.agents,
            "Settings": self.settings_page,
            "Audience overview": self.audience,
            "People": self.people,
            "Audit log": self.audit,
        }
        for name in PAGES:
            self.stack.addWidget(pages[name])
        self.sidebar = Sidebar(PAGES)
        self.sidebar.currentRowChanged.connect(self._sidebar_row)
        self.theme.changed.connect(self._retheme)
        self.segments.saved.connect(self.contacts.refresh)
        self.sync.applied.connect(self.dashboard.events_applied)
        self.retention.pruned.connect(self.dashboard.refresh)
        self.campaigns.open_dashboard.connect(self._open_dashboard)
        self.campaigns.campaign_changed.connect(lambda _c: self.dashboard.refresh())
        self.agents.paired.connect(lambda _r: self.templates.refresh())
        self.contacts.empty.button.clicked.connect(self.open_import)
        self.audience.import_button.clicked.connect(self.open_import)
        self.suppression.changed.connect(self.sync.push_suppressions)
        self.sync.pushed.connect(lambda _agent, _result: self.suppression.refresh_agents())
        # Events can change contacts' status, suppressions and campaigns' figures.
        self.auto_refresh = AutoRefresh(self.stack, {
            self.contacts: self.contacts.refresh_in_place,
            self.suppression: self.suppression.refresh,
            self.campaigns: self.campaigns.refresh,
            self.analytics: self.analytics.refresh,
            self.audience: self.audience.refresh,
        }, self)  # fmt: skip
        self.sync.applied.connect(self.auto_refresh.changed)
        # Signups add contacts and change their status and lists.
        self.sync.signups.connect(lambda _agent, _result: self.auto_refresh.changed())
        self.agents.paired.connect(lambda _r: self.signup_forms.refresh())
        self.agents.paired.connect(lambda _r: self.people.refresh())
        self.people.joined.connect(self._joined)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, theme.SPACING, 0)
        row.setSpacing(theme.SPACING * 2)
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
        self._retheme()
        self.go("Contacts" if self.seat.person is not None else "People")
        # Only the agents this desktop's person has a key of can be followed.
        self.agents.loaded.connect(lambda rs: self.sync.follow_all([r for r in rs if r.key_ref]))
        self.agents.resume_local()
        self.campaigns.resume_uploads()
        self.retention.start()
        geometry = settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 700)

    def _actions(self) -> None:
        """The menu bar, where every command and its shortcut can be found."""
        bar = self.menuBar()

        def add(menu: QMenu, text: str, shortcut: str, slot: Callable[[], object]) -> QAction:
            action = menu.addAction(text)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _=False: slot())
            return action

        file = bar.addMenu("&File")
        self.import_action = add(file, "&Import contacts…", "Ctrl+I", self.open_import)
        file.addSeparator()
        add(file, "&Quit", "Ctrl+Q", self.close)
        edit = bar.addMenu("&Edit")
        add(edit, "&Find contacts…", "Ctrl+F", self._find)
        view = bar.addMenu("&View")
        for name in PAGES:
            keys = (f"Ctrl+{SHORTCUT_PAGES.index(name) + 1}" if name in SHORTCUT_PAGES
                    else LATER_SHORTCUTS[name])  # fmt: skip
            add(view, name, keys, partial(self.go, name))
        view.addSeparator()
        add(view, "&Refresh", "F5", self.refresh)
        self.theme_menu = view.addMenu("&Theme")
        self.theme_actions: dict[str, QAction] = {}
        for choice, text in THEME_CHOICES.items():
            action = add(self.theme_menu, text, "", partial(self.theme.choose, choice))
            action.setCheckable(True)
            self.theme_actions[choice] = action
        campaign = bar.addMenu("&Campaign")
        add(campaign, "&New campaign…", "Ctrl+N", self.new_campaign)
        add(campaign, "New &template", "Ctrl+T", self._new_template)
        add(campaign, "Open the &dashboard", "Ctrl+D", lambda: self.go("Dashboard"))
        help_menu = bar.addMenu("&Help")
        add(help_menu, "&Keyboard shortcuts", "", self.show_shortcuts)
        add(help_menu, "&About Mailfleet", "", self._about)
        self.menus = (file, edit, view, campaign, help_menu)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.addAction(self.import_action)

    def new_campaign(self) -> None:
        """Open the campaign wizard from the Campaigns page."""
        self.go("Campaigns")
        self.campaigns.new_campaign()

    def _new_template(self) -> None:
        self.go("Templates")
        self.templates.new()

    def shortcut_text(self) -> str:
        """Every menu command that has a shortcut, one a line: "Ctrl+N  New campaign…"."""
        lines = []
        for menu in self.menus:
            for action in menu.actions():
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys:
                    lines.append(f"{keys}\t{action.text().replace('&', '')}")
        return "\n".join(lines)

    def show_shortcuts(self) -> QMessageBox:
        """A window listing the keyboard shortcuts (non-modal)."""
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts",
                          self.shortcut_text(), QMessageBox.StandardButton.Close, self)  # fmt: skip
        box.setModal(False)
        box.show()
        return box

    def _about(self) -> None:
        text = (f"<b>Mailfleet</b> {version('mailfleet')}<br>An open-source bulk mailer: this "
                "desktop and its sending agents.")  # fmt: skip
        QMessageBox.about(self, "About Mailfleet", text)

    def go(self, name: str) -> None:
        """Show the page called ``name``."""
        self.sidebar.setCurrentRow(self.sidebar.rows[name])

    def _sidebar_row(self, row: int) -> None:
        page = self.sidebar.page_at(row)
        if page is not None:
            self.stack.setCurrentIndex(PAGES.index(page))
        # Teammates join and act on their own desktops: these two are read whenever shown.
        if page == "People":
            self.people.refresh()
        elif page == "Audit log":
            self.audit.refresh()

    def _retheme(self) -> None:
        """The theme changed: icons, the View ▸ Theme ticks and the charts follow."""
        self.sidebar.retheme(self.theme.colours)
        for choice, action in self.theme_actions.items():
            action.setChecked(choice == self.theme.choice)
        self.dashboard.restyle()
        self.analytics.restyle()
        self.audience.restyle()

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

    def _audit_write(self, description: str, failure: Exception | None) -> None:
        """Keep a desktop write in the team's audit log (on the write thread, after it).

        A desktop that has not joined records nothing: it may change nothing but its joining,
        which the join records itself."""
        if self.seat.person is None:
            return
        outcome = (
            "ok"
            if failure is None
            else "not allowed"
            if isinstance(failure, NotAllowed)
            else "failed"
        )
        try:
            with self.engine.begin() as conn:
                audit_log.record(conn, self.workspace_id, description, outcome=outcome)
        except SQLAlchemyError:
            log.warning("could not keep %r in the audit log", description, exc_info=True)

    def _joined(self, person: PersonRecord) -> None:
        """This desktop redeemed an invite: act as its person, with their keys, from now on."""
        self.seat.person = person
        remember(self.settings, self.engine, self.workspace_id, person.id)
        roles.apply_all(self, self.seat)
        self.people.show_seat()
        self.people.refresh()
        self.agents.refresh()

    def _busy(self, running: int, description: str) -> None:
        self.busy_bar.setVisible(running > 0)
        self.busy_label.setText(f"{description}…" if running else "Ready")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the window geometry; stop background work (an import rolls back)."""
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.sync()
        self.retention.stop()
        self.runner.cancel_all()
        self.campaigns.stop_uploads()
        self.agents.shutdown()
        super().closeEvent(event)
