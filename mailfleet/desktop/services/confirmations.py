"""Imported contacts that have to confirm through a signup form before they are mailed.

An import that asks for confirmation writes its new contacts *unconfirmed* and, in the same
transaction, one request per contact and form. The form's agent then sends each one the form's
double opt-in mail (``mailfleet.desktop.agents.confirm_send``, by ``Signups.Subscribe`` with an
idempotency key of the form and contact, so a request sent twice mails once); the signup sync
brings the confirmation back and the contact becomes subscribed, as for a signup on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, insert, literal, select, update

from mailfleet.desktop.db.models import (
    ConfirmationRequest,
    Contact,
    ContactStatus,
    SignupForm,
    SignupFormAgent,
)
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services.signup_forms import FormDesign

# Requests read and sent at a time.
BATCH = 200


@dataclass(frozen=True, slots=True)
class Request:
    """One contact to send a form's confirmation mail to, with the values the form asks for."""

    contact_id: int
    form_pk: int
    form_id: str
    agent_id: int
    email: str
    fields: dict[str, str]

    @property
    def idempotency_key(self) -> str:
        """The same for every try of this request: the agent signs the contact up once."""
        return f"desktop-confirm-{self.form_id}-{self.contact_id}"


def request_for_import(
    conn: Connection, workspace_id: int, form_pk: int, consent_source: str, created_at: datetime
) -> int:
    """Ask every contact the import just created unconfirmed (at ``created_at``, from
    ``consent_source``) to confirm through the form; return how many."""
    owned = conn.scalar(
        select(SignupForm.id).where(
            SignupForm.id == form_pk, SignupForm.workspace_id == workspace_id
        )
    )
    if owned is None:
        raise ValueError("the signup form chosen for the confirmation no longer exists")
    source = select(Contact.id, literal(form_pk), literal(utcnow())).where(
        Contact.workspace_id == workspace_id,
        Contact.status == ContactStatus.UNCONFIRMED.value,
        Contact.consent_source == consent_source,
        Contact.created_at == created_at,
    )
    inserted = conn.execute(
        insert(ConfirmationRequest).from_select(["contact_id", "form_pk", "created_at"], source)
    )
    return int(inserted.rowcount or 0)


def unsent_count(conn: Connection, workspace_id: int) -> int:
    """How many of the workspace's requests have not been sent yet."""
    return int(
        conn.scalar(
            select(func.count())
            .select_from(ConfirmationRequest)
            .join(Contact, Contact.id == ConfirmationRequest.contact_id)
            .where(Contact.workspace_id == workspace_id, ConfirmationRequest.sent_at.is_(None))
        )
        or 0
    )


def unsent(
    conn: Connection, workspace_id: int, agent_id: int | None = None, limit: int = BATCH
) -> list[Request]:
    """Up to ``limit`` unsent requests whose form an agent publishes (the first, by id; only
    those of ``agent_id`` when given)."""
    agent = (
        select(func.min(SignupFormAgent.agent_id))
        .where(
            SignupFormAgent.form_pk == ConfirmationRequest.form_pk,
            SignupFormAgent.pushed_revision > 0,
        )
        .scalar_subquery()
    )
    only = [] if agent_id is None else [agent == agent_id]
    rows = conn.execute(
        select(ConfirmationRequest.contact_id, ConfirmationRequest.form_pk, SignupForm.form_id,
               SignupForm.definition, agent.label("agent_id"), Contact.email, Contact.first_name,
               Contact.last_name, Contact.fields)
        .join(Contact, Contact.id == ConfirmationRequest.contact_id)
        .join(SignupForm, SignupForm.id == ConfirmationRequest.form_pk)
        .where(Contact.workspace_id == workspace_id, ConfirmationRequest.sent_at.is_(None),
               agent.is_not(None), *only)
        .order_by(ConfirmationRequest.form_pk, ConfirmationRequest.contact_id)
        .limit(limit)
    ).all()  # fmt: skip
    found = []
    for row in rows:
        values = {"first_name": row.first_name, "last_name": row.last_name, **(row.fields or {})}
        asked = [f.key for f in FormDesign.from_dict(row.definition).fields]
        chosen = {k: str(values[k]) for k in asked if values.get(k) not in (None, "")}
        found.append(
            Request(row.contact_id, row.form_pk, row.form_id, row.agent_id, row.email, chosen)
        )
    return found


def drop(conn: Connection, request: Request) -> None:
    """Forget a request its agent refused (the contact stays pending confirmation)."""
    conn.execute(
        delete(ConfirmationRequest).where(
            ConfirmationRequest.contact_id == request.contact_id,
            ConfirmationRequest.form_pk == request.form_pk,
        )
    )


def mark_sent(conn: Connection, requests: list[Request], when: datetime | None = None) -> None:
    """Record that the agent took these requests (its mail is on its way)."""
    for request in requests:
        conn.execute(
            update(ConfirmationRequest)
            .where(
                and_(
                    ConfirmationRequest.contact_id == request.contact_id,
                    ConfirmationRequest.form_pk == request.form_pk,
                )
            )
            .values(sent_at=when or utcnow())
        )
