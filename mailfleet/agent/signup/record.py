"""What a signup and a confirmation do to the store, each in the caller's one transaction:
the signup with its consent record, the confirmation mail queued like a transactional
message (so it goes out by the agent's own routes), the changes the desktop pulls, and a
confirmed signup's entry into the automations it triggers.
"""

from __future__ import annotations

import html
import sqlite3
from dataclasses import dataclass
from enum import Enum

from mailfleet.agent.automations import triggers
from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.model import Content, Sender, TransactionalMessage, payload
from mailfleet.agent.pages import catalogue
from mailfleet.agent.signup.forms import Form
from mailfleet.agent.signup.settings import SignupSettings
from mailfleet.agent.signup.tokens import confirm_token
from mailfleet.agent.store import messages, signups
from mailfleet.agent.store.signups import NewSignup, SignupRow, SignupState, Visitor
from mailfleet.agent.validation import normalize_address

LIST_TAG = "list:"


def list_scope(list_id: str) -> str:
    """The campaign tag (and so the suppression scope) that names a list: a campaign tagged
    ``list:news`` is mail for the list ``news``, and an unsubscribe scoped to that tag leaves
    only that list."""
    return LIST_TAG + list_id


class Outcome(Enum):
    """What became of a post or a confirmation."""

    PENDING = "pending"  # stored; the confirmation mail is queued
    CONFIRMED = "confirmed"  # subscribed
    CAPPED = "capped"  # the form's daily cap is reached: nothing stored
    ALREADY = "already"  # confirmed before: nothing changed
    EXPIRED = "expired"  # the link's time is up: nothing changed
    UNKNOWN = "unknown"  # no such signup


@dataclass(frozen=True)
class Clock:
    """The moment of a request and the windows it is judged by."""

    now: float
    confirm_seconds: float
    # a second confirmation mail to the same address from the same form waits this long
    resend_seconds: float = 3600.0

    @classmethod
    def at(cls, now: float, settings: SignupSettings) -> Clock:
        """The clock of a request at ``now`` under ``settings``."""
        return cls(now, settings.confirm_hours * 3600.0, settings.confirm_resend_minutes * 60.0)


def confirm_url_base(base_url: str, form_id: str) -> str:
    """The confirmation links' address up to their token."""
    return f"{base_url}/f/{form_id}/confirm/"


def confirmation_content(form: Form, language: str) -> Content:
    """The confirmation mail's templates: the form's, or the catalogue's in ``language``."""
    subject = form.confirm_subject or catalogue.text("mail_subject", language)
    if form.confirm_html or form.confirm_text:
        return Content(subject, form.confirm_html, form.confirm_text)
    body, ignore = catalogue.text("mail_body", language), catalogue.text("mail_ignore", language)
    return Content(
        subject,
        html=f'<p>{html.escape(body)}</p><p><a href="{{{{ confirm_url }}}}">'
        f"{{{{ confirm_url }}}}</a></p><p>{html.escape(ignore)}</p>",
        text=f"{body}\n\n{{{{ confirm_url }}}}\n\n{ignore}\n",
    )


def sign_up(
    conn: sqlite3.Connection,
    form: Form,
    new: NewSignup,
    key: TokenKey,
    confirm_url: str,
    daily_cap: int | None,
    clock: Clock,
    single_opt_in: bool | None = None,
) -> tuple[Outcome, int | None]:
    """Store a checked signup; returns what became of it and its id. Double opt-in (the
    default, and always for an address that had unsubscribed): pending, with the
    confirmation mail queued to the link ``confirm_url`` + its token. Single opt-in (the
    form's, unless ``single_opt_in`` says otherwise): confirmed at once. ``daily_cap`` None:
    no cap."""
    single = form.single_opt_in if single_opt_in is None else single_opt_in
    needs_confirmation = not single or signups.unsubscribed(conn, new.tenant_id, new.email)
    if needs_confirmation:
        # Forms post whatever address is typed: one confirmation mail per address and form
        # within resend_seconds keeps a form from being used to flood someone's inbox.
        recent = signups.recent_pending(
            conn, new.form_row, new.email, clock.now - clock.resend_seconds
        )
        if recent is not None:
            return Outcome.PENDING, recent
    if not signups.take_daily_slot(conn, new.form_row, daily_cap, clock.now):
        return Outcome.CAPPED, None
    expires = clock.now + clock.confirm_seconds if needs_confirmation else None
    signup_id = signups.add(conn, new, clock.now, expires)
    if not needs_confirmation:
        _confirmed(conn, new.tenant_id, new.email, new.fields, new.lists, signup_id, clock.now)
        return Outcome.CONFIRMED, signup_id
    url = confirm_url + confirm_token(key, new.tenant_id, new.form_row, signup_id)
    norm = normalize_address(new.email)
    assert norm is not None  # checked by forms.check_submission
    messages.enqueue_transactional(
        conn,
        new.tenant_id,
        TransactionalMessage(
            idempotency_key=f"signup-confirm-{signup_id}",
            sender=Sender(form.from_address, form.from_name, form.reply_to),
            email=new.email,
            email_norm=norm,
            payload=payload.encode(fields={**new.fields, "confirm_url": url}),
            content=confirmation_content(form, new.language),
            raw_mime=None,
            tags=("signup-confirmation",),
        ),
    )
    return Outcome.PENDING, signup_id


def confirm(
    conn: sqlite3.Connection, signup_id: int, visitor: Visitor, now: float
) -> tuple[Outcome, SignupRow | None]:
    """Confirm a signup the link named (a POST): only a pending one within its time."""
    found = signups.get(conn, signup_id)
    outcome = judge(found, now)
    if outcome is Outcome.PENDING and found is not None:
        scopes = ["", *(list_scope(list_id) for list_id in found.lists)]
        signups.confirm(conn, found, visitor, now, scopes)
        _confirmed(conn, found.tenant_id, found.email, found.fields, found.lists, signup_id, now)
        return Outcome.CONFIRMED, found
    return outcome, found


def _confirmed(
    conn: sqlite3.Connection,
    tenant_id: int,
    email: str,
    fields: dict[str, str],
    lists: list[str],
    signup_id: int,
    now: float,
) -> None:
    triggers.on_signup(conn, tenant_id, email, fields, lists, f"signup:{signup_id}", now)


def judge(found: SignupRow | None, now: float) -> Outcome:
    """What a confirmation of ``found`` at ``now`` would do: PENDING means it would confirm."""
    if found is None:
        return Outcome.UNKNOWN
    if found.state is SignupState.CONFIRMED:
        return Outcome.ALREADY
    if found.state is SignupState.EXPIRED or (found.expires_at or 0) < now:
        return Outcome.EXPIRED
    return Outcome.PENDING
