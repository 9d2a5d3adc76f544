"""The people of a workspace and their roles: who may do what with the workspace's data.

A desktop acts as one person, its *seat*: the engine a window uses carries it as an execution
option (``as_seat``), so every connection the window opens knows who is acting and the services
can refuse what that person's role does not allow (``require``) without being handed a person
at each call. A connection without a seat (a command-line tool, the tests of one service) acts
for nobody in particular and is refused nothing.

Roles guard the team against mistakes in the shared database; the hard boundary is on the
agents, where each person's own key has the scope of their role (``KEY_SCOPES``).
"""

from __future__ import annotations

import enum
import getpass
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from mailfleet.desktop.db.models import Agent, Person, PersonAgentKey
from mailfleet.desktop.db.types import utcnow

SEAT_OPTION = "mailfleet_seat"


class Role(enum.StrEnum):
    """A person's role in the workspace."""

    OWNER = "owner"
    MANAGER = "manager"
    MARKETER = "marketer"
    VIEWER = "viewer"


class Action(enum.StrEnum):
    """Something a role may or may not do, as its refusal names it."""

    MANAGE_PEOPLE = "invite people and change their roles"
    MANAGE_AGENTS = "pair and remove agents"
    REMOVE_SUPPRESSION = "take addresses off the suppression list"
    EDIT_AUDIENCE = "change contacts, lists, segments, signup forms and suppressions"
    EDIT_CONTENT = "change templates"
    RUN_CAMPAIGNS = "create and send campaigns"
    CHANGE_SETTINGS = "change the workspace's settings"
    READ_AUDIT = "read the audit log"


_MARKETER = frozenset({Action.EDIT_AUDIENCE, Action.EDIT_CONTENT, Action.RUN_CAMPAIGNS})
_MANAGER = _MARKETER | {Action.REMOVE_SUPPRESSION, Action.CHANGE_SETTINGS, Action.READ_AUDIT}
ALLOWED: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.MANAGER: frozenset(_MANAGER),
    Role.MARKETER: _MARKETER,
    Role.VIEWER: frozenset(),
}

# The scope of the key an invite makes on each agent for a role (mailfleet-agent's scopes):
# the agent refuses, by itself, what the role may not do there.
KEY_SCOPES: dict[Role, str] = {
    Role.OWNER: "admin",
    Role.MANAGER: "tenant",
    Role.MARKETER: "campaigns",
    Role.VIEWER: "read",
}


class NotAllowed(Exception):
    """The acting person's role does not allow the action; the message says so in words."""


@dataclass(frozen=True)
class PersonRecord:
    """A teammate as stored."""

    id: int
    name: str
    role: Role
    joined_at: datetime | None
    keys: int = 0

    @property
    def joined(self) -> bool:
        """False while their invite waits to be redeemed."""
        return self.joined_at is not None


@dataclass
class Seat:
    """Who this desktop acts as; ``person`` is None until the desktop has joined the team."""

    person: PersonRecord | None = None
    # The desktop computer's name, for the audit log's "from where".
    origin: str = field(default="")
    # The workspace's first owner keeps the keys of agents paired without a seat (before the
    # workspace had people, or by a tool): theirs when they have none of their own.
    holds_pairing_keys: bool = False

    def can(self, action: Action) -> bool:
        """Whether the person sitting here may do ``action``."""
        return self.person is not None and action in ALLOWED[self.person.role]

    def why_not(self, action: Action) -> str:
        """The one line that explains a refusal of ``action`` (empty when it is allowed)."""
        if self.can(action):
            return ""
        if self.person is None:
            return f"Join the team with an invite first: only its members can {action.value}."
        return f"As a {self.person.role.value} you cannot {action.value}."


def check_change(seat: Seat) -> None:
    """Refuse (``NotAllowed``) any change of the workspace's data for a seat that may make
    none: a desktop that has not joined, or a viewer."""
    if seat.person is None:
        raise NotAllowed(seat.why_not(Action.EDIT_AUDIENCE))
    if seat.person.role is Role.VIEWER:
        raise NotAllowed("As a viewer you cannot change anything in the workspace.")


def as_seat(engine: Engine, seat: Seat) -> Engine:
    """``engine`` with ``seat`` on every connection it opens (same pool)."""
    return engine.execution_options(**{SEAT_OPTION: seat})


def seat_of(conn: Connection) -> Seat | None:
    """The seat a connection acts for; None for a connection of nobody in particular."""
    seat = conn.get_execution_options().get(SEAT_OPTION)
    return seat if isinstance(seat, Seat) else None


def require(conn: Connection, action: Action) -> None:
    """Refuse (``NotAllowed``) when the connection's person may not do ``action``."""
    seat = seat_of(conn)
    if seat is not None and not seat.can(action):
        raise NotAllowed(seat.why_not(action))


def acting_person_id(conn: Connection) -> int | None:
    """The id of the person the connection acts for, if any."""
    seat = seat_of(conn)
    return seat.person.id if seat is not None and seat.person is not None else None


_COLUMNS = (Person.id, Person.name, Person.role, Person.joined_at)


def _record(row: Sequence[Any], keys: int = 0) -> PersonRecord:
    return PersonRecord(int(row[0]), str(row[1]), Role(row[2]), row[3], keys)


def get_person(conn: Connection, workspace_id: int, person_id: int) -> PersonRecord | None:
    """One of the workspace's people, or None (removed, or of another workspace)."""
    row = conn.execute(
        select(*_COLUMNS).where(Person.id == person_id, Person.workspace_id == workspace_id)
    ).first()
    return _record(row) if row is not None else None


def list_people(conn: Connection, workspace_id: int) -> list[PersonRecord]:
    """The workspace's people, owners first, then by name, with how many agent keys each has."""
    keys = (
        select(func.count())
        .select_from(PersonAgentKey)
        .where(PersonAgentKey.person_id == Person.id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(*_COLUMNS, keys).where(Person.workspace_id == workspace_id).order_by(Person.name)
    )
    found = [_record(row, int(row[4])) for row in rows]
    order = list(Role)
    return sorted(found, key=lambda p: order.index(p.role))


def ensure_owner(conn: Connection, workspace_id: int, name: str = "") -> PersonRecord | None:
    """Make the workspace's first person, its owner, when it has nobody yet, and give them the
    keys of the agents already paired; None when the workspace has people already.

    The first desktop to open a workspace paired its agents with their pairing strings, so the
    keys it keeps are its person's."""
    if conn.scalar(select(func.count()).select_from(Person).where(
        Person.workspace_id == workspace_id
    )):  # fmt: skip
        return None
    now = utcnow()
    chosen = name.strip() or _os_user()
    person_id = conn.scalar(
        insert(Person)
        .values(workspace_id=workspace_id, name=chosen, role=Role.OWNER, joined_at=now)
        .returning(Person.id)
    )
    assert person_id is not None
    agents = conn.execute(select(Agent.id, Agent.key_ref).where(Agent.workspace_id == workspace_id))
    rows = [
        {"person_id": person_id, "agent_id": agent_id, "key_ref": ref, "key_id": ""}
        for agent_id, ref in agents
    ]
    if rows:
        conn.execute(insert(PersonAgentKey), rows)
    return PersonRecord(int(person_id), chosen, Role.OWNER, now)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no user name in the environment or the password database
        return "Owner"


def sign_in(conn: Connection, workspace_id: int, claimed: int | None) -> Seat:
    """The seat of this desktop: the person it said it was (``claimed``, None on a desktop
    that never joined), or the new owner of a workspace that had nobody yet."""
    person = ensure_owner(conn, workspace_id)
    if person is None and claimed is not None:
        person = get_person(conn, workspace_id, claimed)
    first_owner = conn.scalar(
        select(func.min(Person.id)).where(
            Person.workspace_id == workspace_id, Person.role == Role.OWNER
        )
    )
    holds = person is not None and person.id == first_owner
    return Seat(person, holds_pairing_keys=holds)


def add_person(conn: Connection, workspace_id: int, name: str, role: Role) -> int:
    """Add someone who has not joined yet (their invite does that); refused for a name taken."""
    require(conn, Action.MANAGE_PEOPLE)
    chosen = name.strip()
    if not chosen:
        raise ValueError("Give the person a name.")
    taken = conn.scalar(
        select(Person.id).where(Person.workspace_id == workspace_id, Person.name == chosen)
    )
    if taken is not None:
        raise ValueError(f"{chosen} is in the team already.")
    new_id = conn.scalar(
        insert(Person)
        .values(workspace_id=workspace_id, name=chosen, role=role)
        .returning(Person.id)
    )
    assert new_id is not None
    return int(new_id)


def mark_joined(conn: Connection, person_id: int) -> None:
    """The person redeemed their invite."""
    conn.execute(update(Person).where(Person.id == person_id).values(joined_at=utcnow()))


def remove_person(conn: Connection, workspace_id: int, person_id: int) -> list[tuple[int, str]]:
    """Take someone off the team; returns their keys as (agent id, key id), for revoking.

    The last owner stays: a workspace without one could never invite anybody again."""
    require(conn, Action.MANAGE_PEOPLE)
    person = get_person(conn, workspace_id, person_id)
    if person is None:
        return []
    if person.role == Role.OWNER and _owners(conn, workspace_id) == 1:
        raise NotAllowed(f"{person.name} is the team's only owner and stays.")
    keys = [
        (agent_id, key_id)
        for agent_id, key_id in conn.execute(
            select(PersonAgentKey.agent_id, PersonAgentKey.key_id).where(
                PersonAgentKey.person_id == person_id
            )
        )
    ]
    conn.execute(delete(Person).where(Person.id == person_id))
    return keys


def _owners(conn: Connection, workspace_id: int) -> int:
    return int(
        conn.scalar(
            select(func.count())
            .select_from(Person)
            .where(Person.workspace_id == workspace_id, Person.role == Role.OWNER)
        )
        or 0
    )


def key_refs(conn: Connection, person_id: int) -> dict[int, str]:
    """The person's keyring reference for each agent they have a key of, by agent id."""
    rows = conn.execute(
        select(PersonAgentKey.agent_id, PersonAgentKey.key_ref).where(
            PersonAgentKey.person_id == person_id
        )
    )
    return {agent_id: ref for agent_id, ref in rows}


def keep_key(conn: Connection, person_id: int, agent_id: int, key_ref: str, key_id: str) -> str:
    """Record the person's key for an agent (replacing the one they had); returns the keyring
    reference it replaced, or "" when it is their first."""
    before = conn.scalar(
        select(PersonAgentKey.key_ref).where(
            PersonAgentKey.person_id == person_id, PersonAgentKey.agent_id == agent_id
        )
    )
    if before is not None:
        conn.execute(
            update(PersonAgentKey)
            .where(PersonAgentKey.person_id == person_id, PersonAgentKey.agent_id == agent_id)
            .values(key_ref=key_ref, key_id=key_id)
        )
        return str(before)
    conn.execute(
        insert(PersonAgentKey).values(
            person_id=person_id, agent_id=agent_id, key_ref=key_ref, key_id=key_id
        )
    )
    return ""
