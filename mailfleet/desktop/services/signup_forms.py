"""Signup forms as the marketer designs them, kept in the desktop database.

A form's definition is the editor's values (``FormDesign``); its agents host it. Every change
raises the form's ``revision``, and each agent's row remembers the revision it last accepted, so
``mailfleet.desktop.agents.signup_push`` knows which agents still need it (one that was offline
gets it when it is back). The consent text's version is the desktop's: a new one whenever the
text changes, so every consent record names the exact statement the person agreed to.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from mailfleet.desktop.db.models import (
    Agent,
    FieldType,
    MailingList,
    SignupForm,
    SignupFormAgent,
    SignupFormDeletion,
)
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import fields, workspaces
from mailfleet.desktop.services.emails import check_address
from mailfleet.desktop.services.languages import LANGUAGES

# The tag the confirmation mail must contain: the agent puts the signed link there.
CONFIRM_TAG = "{{ confirm_url }}"
# The form field type of each contact field type (the agent's FieldType names, lower-cased).
FIELD_TYPES = {
    FieldType.TEXT: "text",
    FieldType.NUMBER: "number",
    FieldType.DATE: "date",
    FieldType.BOOLEAN: "checkbox",
}
# The contact's own columns a form can fill besides custom fields.
BUILTIN_FIELDS = (("first_name", "First name"), ("last_name", "Last name"))
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class FormError(ValueError):
    """A form that cannot be saved; the message says what to fix, for the marketer."""


@dataclass
class FormFieldDesign:
    """One field of a form besides the email address (which every form has, required)."""

    key: str
    label: str
    type: str = "text"
    required: bool = False


@dataclass
class FormDesign:
    """Everything the editor sets on a form."""

    name: str
    list_ids: list[int]
    from_address: str
    fields: list[FormFieldDesign] = field(default_factory=list)
    from_name: str = ""
    consent_text: str = ""
    consent_version: str = ""
    success_message: str = ""
    error_message: str = ""
    logo_url: str = ""
    accent_color: str = ""
    background_color: str = ""
    language: str = "en"
    double_opt_in: bool = True
    confirm_subject: str = ""
    confirm_body: str = ""
    agent_ids: list[int] = field(default_factory=list)
    # Closed: its agents' page says so and takes no signups (links already mailed still work).
    closed: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FormDesign:
        """The design stored as ``values`` (``asdict`` of one)."""
        data = dict(values)
        data["fields"] = [FormFieldDesign(**f) for f in data.get("fields", [])]
        return cls(**data)


@dataclass(frozen=True, slots=True)
class FormAgent:
    """One agent of a form: whether it has the latest definition, and its page's address."""

    agent_id: int
    agent_name: str
    up_to_date: bool
    url: str
    snippet: str
    error: str


@dataclass(frozen=True, slots=True)
class FormSummary:
    """A form as the list on the Signup forms page shows it."""

    id: int
    form_id: str
    name: str
    design: FormDesign
    revision: int
    agents: list[FormAgent]

    @property
    def url(self) -> str:
        """The first hosted address an agent reported, or "" before any accepted the form."""
        return next((a.url for a in self.agents if a.url), "")

    @property
    def snippet(self) -> str:
        """The first embeddable HTML an agent reported."""
        return next((a.snippet for a in self.agents if a.snippet), "")


def field_choices(conn: Connection, workspace_id: int) -> list[FormFieldDesign]:
    """The contact fields a form can ask for: first and last name, then the custom fields."""
    builtin = [FormFieldDesign(key, label) for key, label in BUILTIN_FIELDS]
    custom = [
        FormFieldDesign(spec.key, spec.label, FIELD_TYPES[spec.type])
        for spec in fields.list_fields(conn, workspace_id)
    ]
    return builtin + custom


def _check(conn: Connection, workspace_id: int, design: FormDesign) -> None:
    if not design.name.strip():
        raise FormError("Give the form a name.")
    if not design.list_ids:
        raise FormError("Choose at least one list the form adds people to.")
    for list_id in design.list_ids:
        if not workspaces.list_in_workspace(conn, workspace_id, list_id):
            raise FormError("One of the chosen lists no longer exists.")
    if check_address(design.from_address).email is None:
        raise FormError("Enter the address the confirmation mail comes from.")
    for colour in (design.accent_color, design.background_color):
        if colour and not _COLOR.fullmatch(colour):
            raise FormError(f"{colour} is not a colour: write it as #rrggbb.")
    if design.logo_url and not design.logo_url.startswith(("https://", "http://")):
        raise FormError("The logo's address must start with https://.")
    if design.language not in LANGUAGES:
        raise FormError("Choose the form's language.")
    if design.double_opt_in and design.confirm_body and "confirm_url" not in design.confirm_body:
        raise FormError(f"The confirmation mail must contain the link tag {CONFIRM_TAG}.")
    keys = [f.key for f in design.fields]
    if len(set(keys)) != len(keys):
        raise FormError("A field is on the form twice.")


def _next_version(old: FormDesign | None, design: FormDesign) -> str:
    if old is None:
        return "1"
    if old.consent_text == design.consent_text:
        return old.consent_version
    return str(int(old.consent_version) + 1) if old.consent_version.isdigit() else "1"


def save(
    conn: Connection, workspace_id: int, design: FormDesign, form_pk: int | None = None
) -> int:
    """Create (``form_pk`` None) or change a form; returns its id. Raises ``FormError``.

    The consent version is set here (a new one when the text changed), and every agent of the
    form is marked as needing the new revision.
    """
    _check(conn, workspace_id, design)
    now = utcnow()
    old = get(conn, workspace_id, form_pk).design if form_pk is not None else None
    design.consent_version = _next_version(old, design)
    taken = conn.scalar(
        select(func.count())
        .select_from(SignupForm)
        .where(
            SignupForm.workspace_id == workspace_id,
            SignupForm.name == design.name.strip(),
            SignupForm.id != (form_pk or 0),
        )
    )
    if taken:
        raise FormError(f"There is already a form called {design.name.strip()}.")
    design.name = design.name.strip()
    values = {"name": design.name, "definition": asdict(design), "updated_at": now}
    if form_pk is None:
        form_pk = int(
            conn.scalar(
                insert(SignupForm)
                .values(
                    workspace_id=workspace_id,
                    form_id=new_form_id(),
                    revision=1,
                    created_at=now,
                    **values,
                )
                .returning(SignupForm.id)
            )
            or 0
        )
    elif old != design:
        conn.execute(
            update(SignupForm)
            .where(SignupForm.id == form_pk)
            .values(revision=SignupForm.revision + 1, **values)
        )
    _set_agents(conn, workspace_id, form_pk, design.agent_ids)
    return form_pk


def new_form_id() -> str:
    """A random form id: it is the page's path, so it must not be guessable from a name."""
    return "f" + secrets.token_hex(8)


def _set_agents(conn: Connection, workspace_id: int, form_pk: int, agent_ids: list[int]) -> None:
    own = set(
        conn.scalars(
            select(Agent.id).where(Agent.workspace_id == workspace_id, Agent.id.in_(agent_ids))
        )
    )
    have = set(
        conn.scalars(select(SignupFormAgent.agent_id).where(SignupFormAgent.form_pk == form_pk))
    )
    # An agent taken off the form keeps hosting its last definition until it is closed there:
    # the desktop does not delete a page people may have bookmarked. See docs/signup-forms.md.
    if have - own:
        conn.execute(
            delete(SignupFormAgent).where(
                SignupFormAgent.form_pk == form_pk, SignupFormAgent.agent_id.in_(have - own)
            )
        )
    for agent_id in sorted(own - have):
        conn.execute(
            insert(SignupFormAgent).values(
                form_pk=form_pk, agent_id=agent_id, pushed_revision=0, url="", snippet="", error=""
            )
        )


def _agents(conn: Connection, form_pk: int, revision: int) -> list[FormAgent]:
    a = SignupFormAgent
    rows = conn.execute(
        select(a.agent_id, Agent.name, a.pushed_revision, a.url, a.snippet, a.error)
        .join(Agent, Agent.id == a.agent_id)
        .where(a.form_pk == form_pk)
        .order_by(Agent.name)
    )
    return [
        FormAgent(agent_id, name, pushed >= revision, url, snippet, error)
        for agent_id, name, pushed, url, snippet, error in rows
    ]


def _summary(conn: Connection, row: Any) -> FormSummary:
    return FormSummary(
        row.id,
        row.form_id,
        row.name,
        FormDesign.from_dict(row.definition),
        row.revision,
        _agents(conn, row.id, row.revision),
    )


def list_forms(conn: Connection, workspace_id: int) -> list[FormSummary]:
    """The workspace's forms by name, each with its agents."""
    rows = conn.execute(
        select(SignupForm).where(SignupForm.workspace_id == workspace_id).order_by(SignupForm.name)
    ).all()
    return [_summary(conn, row) for row in rows]


def confirming_forms(conn: Connection, workspace_id: int) -> list[tuple[int, str]]:
    """The forms (id, name) an import's new contacts can confirm through: double opt-in, and
    published by an agent."""
    return [
        (form.id, form.name)
        for form in list_forms(conn, workspace_id)
        if form.design.double_opt_in and any(a.url for a in form.agents)
    ]


def get(conn: Connection, workspace_id: int, form_pk: int) -> FormSummary:
    """One form; ``LookupError`` if the workspace has no such form."""
    row = conn.execute(
        select(SignupForm).where(SignupForm.id == form_pk, SignupForm.workspace_id == workspace_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"no form {form_pk} in this workspace")
    return _summary(conn, row)


def by_form_id(conn: Connection, workspace_id: int, form_id: str) -> FormSummary | None:
    """The workspace's form with this public id, if any."""
    pk = conn.scalar(
        select(SignupForm.id).where(
            SignupForm.workspace_id == workspace_id, SignupForm.form_id == form_id
        )
    )
    return None if pk is None else get(conn, workspace_id, pk)


@dataclass(frozen=True, slots=True)
class PendingPush:
    """A form an agent still has to get, with the names of its lists."""

    form: FormSummary
    list_names: dict[int, str]


def pending_for(conn: Connection, workspace_id: int, agent_id: int) -> list[PendingPush]:
    """The forms whose latest revision ``agent_id`` has not accepted yet."""
    pks = conn.scalars(
        select(SignupForm.id)
        .join(SignupFormAgent, SignupFormAgent.form_pk == SignupForm.id)
        .where(
            SignupForm.workspace_id == workspace_id,
            SignupFormAgent.agent_id == agent_id,
            SignupFormAgent.pushed_revision < SignupForm.revision,
        )
        .order_by(SignupForm.id)
    ).all()
    names = {
        list_id: name
        for list_id, name in conn.execute(
            select(MailingList.id, MailingList.name).where(MailingList.workspace_id == workspace_id)
        )
    }
    return [PendingPush(get(conn, workspace_id, pk), names) for pk in pks]


def record_push(
    conn: Connection,
    form_pk: int,
    agent_id: int,
    revision: int,
    url: str = "",
    snippet: str = "",
    error: str = "",
) -> None:
    """What pushing revision ``revision`` to an agent gave: its page and snippet, or why not."""
    values: dict[str, Any] = {"error": error[:500]}
    if not error:
        values.update(pushed_revision=revision, url=url, snippet=snippet)
    conn.execute(
        update(SignupFormAgent)
        .where(SignupFormAgent.form_pk == form_pk, SignupFormAgent.agent_id == agent_id)
        .values(values)
    )


def delete_form(conn: Connection, workspace_id: int, form_pk: int) -> str:
    """Delete a form; its name. Every agent of the workspace still has to take it down
    (``deletions_for``), those taken off the form too, as they kept hosting it; the contacts
    and consent records it collected stay. ``LookupError`` if the workspace has no such form."""
    form = get(conn, workspace_id, form_pk)
    agent_ids = conn.scalars(select(Agent.id).where(Agent.workspace_id == workspace_id)).all()
    for agent_id in agent_ids:
        conn.execute(insert(SignupFormDeletion).values(agent_id=agent_id, form_id=form.form_id))
    conn.execute(delete(SignupForm).where(SignupForm.id == form_pk))
    return form.name


def deletions_for(conn: Connection, agent_id: int) -> list[str]:
    """The public ids of the deleted forms ``agent_id`` still has to take down."""
    return list(
        conn.scalars(
            select(SignupFormDeletion.form_id)
            .where(SignupFormDeletion.agent_id == agent_id)
            .order_by(SignupFormDeletion.form_id)
        )
    )


def record_deletion(conn: Connection, agent_id: int, form_id: str) -> None:
    """``agent_id`` has taken the deleted form ``form_id`` down."""
    conn.execute(
        delete(SignupFormDeletion).where(
            SignupFormDeletion.agent_id == agent_id, SignupFormDeletion.form_id == form_id
        )
    )
