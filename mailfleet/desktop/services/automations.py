"""Automations as stored on the desktop: their designs, the definition each save builds, whether
the marketer wants them running, and what each chosen agent last accepted.

The agents run them (``mailfleet.desktop.agents.automation_push`` sends them); this module
only reads and writes the database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from mailfleet.desktop.db.models import Agent, Automation, AutomationAgent, Template
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services.automation_design import (
    AutomationDesign,
    DesignError,
    TemplateText,
    definition,
)


@dataclass(frozen=True)
class AgentState:
    """Where an automation stands on one of its agents."""

    agent_id: int
    agent_name: str
    up_to_date: bool  # it has the latest revision and the wanted state
    version: int  # the agent's version of it (0: never accepted)
    error: str  # why it refused the latest revision, in words ("" when it did not)


@dataclass(frozen=True)
class AutomationSummary:
    """An automation with its design and its agents."""

    id: int
    agent_name: str
    design: AutomationDesign
    definition: str
    revision: int
    active: bool
    agents: tuple[AgentState, ...]

    @property
    def version(self) -> int:
        """The newest version its agents stored (0 before any accepted it)."""
        return max((a.version for a in self.agents), default=0)


@dataclass(frozen=True)
class PendingPush:
    """What one agent still has to get: the definition (when its revision is behind) and the
    state to set."""

    automation_id: int
    agent_name: str
    name: str
    definition: str | None
    revision: int
    active: bool


def template_texts(conn: Connection, workspace_id: int) -> dict[int, TemplateText]:
    """The workspace's templates as send steps copy them, by id."""
    rows = conn.execute(
        select(Template.id, Template.name, Template.subject, Template.html, Template.text).where(
            Template.workspace_id == workspace_id
        )
    )
    return {row.id: TemplateText(row.name, row.subject, row.html, row.text) for row in rows}


def save(
    conn: Connection, workspace_id: int, design: AutomationDesign, automation_id: int | None
) -> tuple[int, bool]:
    """Create (``automation_id`` None) or change an automation; returns its id and whether an
    existing automation's definition changed. Raises ``DesignError`` when it could not run. A
    changed definition is a new revision for every agent (they store it as their next
    version)."""
    built = definition(design, template_texts(conn, workspace_id))
    design.name = design.name.strip()
    taken = conn.scalar(
        select(func.count())
        .select_from(Automation)
        .where(
            Automation.workspace_id == workspace_id,
            Automation.name == design.name,
            Automation.id != (automation_id or 0),
        )
    )
    if taken:
        raise DesignError(f"There is already an automation called {design.name}.")
    now = utcnow()
    values = {"name": design.name, "design": design.to_json(), "updated_at": now}
    if automation_id is None:
        automation_id = int(
            conn.scalar(
                insert(Automation)
                .values(
                    workspace_id=workspace_id,
                    agent_name="a" + secrets.token_hex(8),
                    definition=built,
                    revision=1,
                    active=False,
                    created_at=now,
                    **values,
                )
                .returning(Automation.id)
            )
            or 0
        )
        changed = False
    else:
        old = conn.scalar(select(Automation.definition).where(Automation.id == automation_id))
        changed = old != built
        bump = {"revision": Automation.revision + 1} if changed else {}
        conn.execute(
            update(Automation)
            .where(Automation.id == automation_id, Automation.workspace_id == workspace_id)
            .values(definition=built, **bump, **values)
        )
    _set_agents(conn, workspace_id, automation_id, design.agent_ids)
    return automation_id, changed


def _set_agents(
    conn: Connection, workspace_id: int, automation_id: int, agent_ids: list[int]
) -> None:
    own = set(
        conn.scalars(
            select(Agent.id).where(Agent.workspace_id == workspace_id, Agent.id.in_(agent_ids))
        )
    )
    have = set(
        conn.scalars(
            select(AutomationAgent.agent_id).where(AutomationAgent.automation_id == automation_id)
        )
    )
    if have - own:
        conn.execute(
            delete(AutomationAgent).where(
                AutomationAgent.automation_id == automation_id,
                AutomationAgent.agent_id.in_(have - own),
            )
        )
    for agent_id in sorted(own - have):
        conn.execute(
            insert(AutomationAgent).values(
                automation_id=automation_id,
                agent_id=agent_id,
                pushed_revision=0,
                pushed_active=False,
                version=0,
                error="",
            )
        )


def set_active(conn: Connection, workspace_id: int, automation_id: int, active: bool) -> None:
    """Want the automation running (or paused); its agents are told at the next push."""
    conn.execute(
        update(Automation)
        .where(Automation.id == automation_id, Automation.workspace_id == workspace_id)
        .values(active=active, updated_at=utcnow())
    )


def list_automations(conn: Connection, workspace_id: int) -> list[AutomationSummary]:
    """The workspace's automations by name, each with its agents."""
    rows = conn.execute(
        select(Automation).where(Automation.workspace_id == workspace_id).order_by(Automation.name)
    ).all()
    states = conn.execute(
        select(AutomationAgent, Agent.name.label("agent_name"))
        .join(Agent, Agent.id == AutomationAgent.agent_id)
        .join(Automation, Automation.id == AutomationAgent.automation_id)
        .where(Automation.workspace_id == workspace_id)
        .order_by(Agent.name)
    ).all()
    by_automation: dict[int, list[AgentState]] = {}
    wanted = {row.id: (row.revision, row.active) for row in rows}
    for link in states:
        current = (link.pushed_revision, link.pushed_active) == wanted[link.automation_id]
        by_automation.setdefault(link.automation_id, []).append(
            AgentState(link.agent_id, link.agent_name, current, link.version, link.error)
        )
    return [
        AutomationSummary(
            row.id,
            row.agent_name,
            AutomationDesign.from_json(row.design),
            row.definition,
            row.revision,
            row.active,
            tuple(by_automation.get(row.id, ())),
        )
        for row in rows
    ]


def pending_for(conn: Connection, workspace_id: int, agent_id: int) -> list[PendingPush]:
    """What ``agent_id`` has not accepted yet: a newer revision, or a change of state."""
    rows = conn.execute(
        select(Automation, AutomationAgent.pushed_revision, AutomationAgent.pushed_active)
        .join(AutomationAgent, AutomationAgent.automation_id == Automation.id)
        .where(Automation.workspace_id == workspace_id, AutomationAgent.agent_id == agent_id)
        .order_by(Automation.id)
    ).all()
    pending = []
    for row in rows:
        behind = row.pushed_revision < row.revision
        if behind or row.pushed_active != row.active:
            pending.append(
                PendingPush(
                    row.id,
                    row.agent_name,
                    row.name,
                    row.definition if behind else None,
                    row.revision,
                    row.active,
                )
            )
    return pending


def record_push(
    conn: Connection,
    automation_id: int,
    agent_id: int,
    revision: int,
    active: bool,
    version: int,
    error: str = "",
) -> None:
    """What pushing ``revision`` (and the state ``active``) to an agent gave: the version it
    stored, or why it refused."""
    where = (AutomationAgent.automation_id == automation_id, AutomationAgent.agent_id == agent_id)
    if error:
        conn.execute(update(AutomationAgent).where(*where).values(error=error[:500]))
        return
    conn.execute(
        update(AutomationAgent)
        .where(*where)
        .values(pushed_revision=revision, pushed_active=active, version=version, error="")
    )
