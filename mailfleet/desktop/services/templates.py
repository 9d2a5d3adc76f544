"""Message templates: storage, merge tags, preview with the agent's own renderer and checks.

The preview renders through ``mailfleet.agent.client.preview``, the code the agents' workers run,
so what the marketer sees is what recipients get (the sandbox, the escaping, the text part derived
from the HTML). Test sends go through an agent: ``mailfleet.desktop.agents.send_test``.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from jinja2 import TemplateSyntaxError
from sqlalchemy import Connection, delete, func, insert, select, update

from mailfleet.agent.client import preview as rendering
from mailfleet.desktop.db.mailbox import mailbox_key
from mailfleet.desktop.db.models import Contact, ContactStatus, FieldType, Template
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import campaigns, content_checks, fields, merge_tag_errors
from mailfleet.desktop.services.content_checks import BUILT_IN_TAGS, Finding
from mailfleet.desktop.services.plurals import counted, plural

PREVIEW_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class TemplateRow:
    """A saved template."""

    id: int
    name: str
    subject: str
    html: str
    text: str
    updated_at: datetime
    editor: str = "html"
    source: str = ""


def list_templates(conn: Connection, workspace_id: int) -> list[TemplateRow]:
    """The workspace's templates by name."""
    rows = conn.execute(
        select(
            Template.id,
            Template.name,
            Template.subject,
            Template.html,
            Template.text,
            Template.updated_at,
            Template.editor,
            Template.source,
        )
        .where(Template.workspace_id == workspace_id)
        .order_by(Template.name)
    )
    return [TemplateRow(*row) for row in rows]


def save(
    conn: Connection,
    workspace_id: int,
    name: str,
    subject: str,
    html: str,
    text: str,
    template_id: int | None = None,
    *,
    editor: str = "html",
    source: str = "",
) -> int:
    """Create or update a template; returns its id. Refuses an empty name. ``editor`` and
    ``source`` say what html and text were rendered from (``services.template_editors``)."""
    if not name.strip():
        raise ValueError("the template needs a name")
    values = {
        "name": name.strip(),
        "subject": subject,
        "html": html,
        "text": text,
        "editor": editor,
        "source": source,
        "updated_at": utcnow(),
    }
    if template_id is None:
        new_id = conn.scalar(
            insert(Template).values(workspace_id=workspace_id, **values).returning(Template.id)
        )
        assert new_id is not None
        return int(new_id)
    conn.execute(
        update(Template)
        .where(Template.id == template_id, Template.workspace_id == workspace_id)
        .values(**values)
    )
    return template_id


def remove(conn: Connection, workspace_id: int, template_id: int) -> None:
    """Delete a template."""
    conn.execute(
        delete(Template).where(Template.id == template_id, Template.workspace_id == workspace_id)
    )


def merge_tags(conn: Connection, workspace_id: int) -> list[str]:
    """Every merge tag a template may use: the built-in ones and the workspace's fields."""
    return [*BUILT_IN_TAGS, *(f.key for f in fields.list_fields(conn, workspace_id))]


def merge_values(first: str, last: str, custom: dict[str, Any], keys: list[str]) -> dict[str, str]:
    """A contact's merge fields as the agent receives them (all strings)."""
    values = {"first_name": first or "", "last_name": last or ""}
    for key in keys:
        values[key] = field_text(custom.get(key))
    return values


def field_text(value: Any) -> str:
    """One custom field value as merge text (numbers without a needless ".0")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _number_text(value: Any) -> str:
    if value is None or value == "":
        return ""
    return field_text(float(value))


def _boolean_text(value: Any) -> str:
    if value is None or value == "":
        return ""
    # SQLite's JSON extraction gives 1/0, PostgreSQL's gives "true"/"false".
    return "true" if value in (True, 1, "true", "1") else "false"


def converter(ftype: FieldType) -> Callable[[Any], str]:
    """Turns a value read straight from the database's JSON into the same merge text as
    :func:`field_text` gives for the decoded value."""
    if ftype is FieldType.NUMBER:
        return _number_text
    if ftype is FieldType.BOOLEAN:
        return _boolean_text
    return field_text


@dataclass(frozen=True)
class Preview:
    """A rendered message for one contact."""

    subject: str
    html: str
    text: str
    size: int
    error: str = ""


def contact_values(
    conn: Connection, workspace_id: int, email_address: str
) -> tuple[str, str, dict[str, str]]:
    """(email, display name, merge fields) of one contact; ``LookupError`` if unknown."""
    row = conn.execute(
        select(Contact.email, Contact.first_name, Contact.last_name, Contact.fields).where(
            Contact.workspace_id == workspace_id,
            Contact.email_key == mailbox_key(email_address.strip()),
        )
    ).first()
    if row is None:
        raise LookupError(f"no contact {email_address!r} in this workspace")
    keys = [f.key for f in fields.list_fields(conn, workspace_id)]
    address, first, last, custom = row
    name = f"{first} {last}".strip()
    return address, name, merge_values(first, last, custom or {}, keys)


def sample_contact(
    conn: Connection, workspace_id: int, audience: campaigns.Audience | None = None
) -> str:
    """The email of one contact picked at random: any of the workspace's, or a mailable one of
    ``audience`` (its lists and segments, as a campaign would send to them); "" when there is
    none."""
    return next(iter(sample_contacts(conn, workspace_id, audience, 1)), "")


def sample_contacts(
    conn: Connection, workspace_id: int, audience: campaigns.Audience | None, limit: int
) -> list[str]:
    """The emails of up to ``limit`` contacts picked at random, as ``sample_contact`` picks
    one."""
    condition = (
        Contact.workspace_id == workspace_id
        if audience is None
        else campaigns.audience_condition(conn, workspace_id, audience)
    )
    query = select(Contact.email).where(condition).order_by(func.random()).limit(limit)
    return list(conn.scalars(query))


def message_bytes(
    subject: str,
    html: str,
    text: str,
    to_email: str,
    to_name: str,
    values: dict[str, str],
    sender: str,
) -> bytes:
    """The whole message one recipient gets (RFC 5322 bytes, as the agent renders it, before
    DKIM); ``rendering.PreviewError`` when it cannot be rendered."""
    return rendering.render(subject, html, text, to_email=to_email, to_name=to_name,
                            fields=values, sender=sender, max_bytes=PREVIEW_MAX_BYTES)  # fmt: skip


def preview(
    subject: str,
    html: str,
    text: str,
    to_email: str,
    to_name: str,
    values: dict[str, str],
    sender: str = "preview@example.com",
) -> Preview:
    """Render the template for one recipient with the agent's renderer."""
    try:
        raw = message_bytes(subject, html, text, to_email, to_name, values, sender)
    except rendering.PreviewError as exc:
        return Preview("", "", "", 0, error=str(exc))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    return Preview(
        str(message.get("Subject", "")),
        html_part.get_content() if html_part is not None else "",
        text_part.get_content() if text_part is not None else "",
        len(raw),
    )


def rename_tag(source: str, old: str, new: str) -> str:
    """``source`` with the merge field ``old`` renamed ``new`` wherever the template reads it
    (``{{ old }}``, ``{% if old %}``, ``{{ old|upper }}``); attributes, filters and text are
    left alone. A template Jinja cannot read is returned unchanged."""
    tokens = merge_tag_errors.lex(source)
    if tokens is None:
        return source
    out = [value for _, _, value in tokens]
    for index, reads in merge_tag_errors.field_reads(tokens):
        if reads and out[index] == old:
            out[index] = new
    return "".join(out)


def used_tags(subject: str, html: str, text: str) -> set[str]:
    """Variables the templates use; ``TemplateSyntaxError`` for a broken template."""
    return content_checks.used_fields(subject, html, text)


def checks(
    conn: Connection,
    workspace_id: int,
    subject: str,
    html: str,
    text: str,
    audience: campaigns.Audience | None = None,
) -> list[Finding]:
    """What to fix (errors) or consider (warnings) before sending this content: the content's
    own checks, then how many recipients lack a field it shows."""
    keys = [f.key for f in fields.list_fields(conn, workspace_id)]
    found = content_checks.check_content(subject, html, text, keys)
    try:
        used = used_tags(subject, html, text)
    except TemplateSyntaxError:
        return found  # the content's checks say what is broken; nothing can be counted
    for tag in sorted(used & (set(keys) | {"first_name", "last_name"})):
        missing = _missing(conn, workspace_id, tag, audience)
        if missing:
            found.append(
                Finding(
                    "warning",
                    f"{counted(missing, 'recipient')} {plural(missing, 'has', 'have')} no "
                    f"{tag}: the message shows nothing there for them.",
                    f"Fill in their {tag}, or give it a default: {{{{ {tag} or 'there' }}}}.",
                )
            )
    return found


def _missing(
    conn: Connection, workspace_id: int, tag: str, audience: campaigns.Audience | None
) -> int:
    if audience is not None and (audience.lists or audience.segments):
        scope = campaigns.audience_condition(conn, workspace_id, audience)
    else:
        scope = (Contact.workspace_id == workspace_id) & (
            Contact.status == ContactStatus.SUBSCRIBED.value
        )
    if tag in ("first_name", "last_name"):
        column = getattr(Contact, tag)
        empty = column == ""
    else:
        value = Contact.fields[tag].as_string()
        empty = value.is_(None) | (value == "")
    return int(conn.scalar(select(func.count()).select_from(Contact).where(scope, empty)) or 0)
