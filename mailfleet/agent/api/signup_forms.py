"""Signup forms across the API: checking a pushed ``mailfleet.v1.Form`` into the agent's
:class:`mailfleet.agent.signup.forms.Form`, and forms and signups back into messages."""

from __future__ import annotations

import re

from mailfleet.agent.api import requests
from mailfleet.agent.api.convert import timestamp
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.pages.catalogue import LANGUAGES
from mailfleet.agent.pages.document import Branding, Look
from mailfleet.agent.signup.forms import (
    FORM_ID,
    RESERVED_NAMES,
    FieldType,
    Form,
    FormField,
    FormList,
)
from mailfleet.agent.store.signups import Change, SignupRow, StoredForm
from mailfleet.agent.validation import is_field_name, text_line
from mailfleet.v1 import common_pb2, signups_pb2

_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_MAX_FIELDS = 30
_MAX_LISTS = 20
_MAX_CHOICES = 100
_MAX_TEXT = 5000


def _color(field: str, value: str) -> str:
    if value and not _COLOR.fullmatch(value):
        raise InvalidArgument(field, f"{value!r} is not a colour like #2456a6")
    return value


def _url(field: str, value: str) -> str:
    text_line(field, value, limit=2000)
    if value and not value.startswith(("https://", "http://")):
        raise InvalidArgument(field, "must be an http:// or https:// URL")
    return value


def _paragraph(field: str, value: str) -> str:
    if len(value) > _MAX_TEXT:
        raise InvalidArgument(field, f"longer than {_MAX_TEXT} characters")
    if "\x00" in value:
        raise InvalidArgument(field, "holds a NUL character")
    return value


def _field(i: int, msg: signups_pb2.FormField) -> FormField:
    where = f"form.fields[{i}]"
    if not is_field_name(msg.name) or msg.name in RESERVED_NAMES:
        raise InvalidArgument(f"{where}.name", f"{msg.name!r} is not a usable field name")
    if msg.type == signups_pb2.FIELD_TYPE_UNSPECIFIED:
        raise InvalidArgument(f"{where}.type", "required")
    choices = tuple(text_line(f"{where}.choices", c, required=True) for c in msg.choices)
    is_choice = msg.type == signups_pb2.FIELD_TYPE_CHOICE
    if is_choice and not 1 <= len(choices) <= _MAX_CHOICES:
        raise InvalidArgument(f"{where}.choices", f"a choice field has 1-{_MAX_CHOICES} choices")
    if choices and not is_choice:
        raise InvalidArgument(f"{where}.choices", "only a choice field has choices")
    return FormField(
        name=msg.name,
        label=text_line(f"{where}.label", msg.label, required=True, limit=500),
        type=FieldType(msg.type),
        required=msg.required,
        choices=choices,
        max_length=min(msg.max_length, _MAX_TEXT),
    )


def _lists(msgs: list[signups_pb2.FormList]) -> tuple[FormList, ...]:
    if not 1 <= len(msgs) <= _MAX_LISTS:
        raise InvalidArgument("form.lists", f"1-{_MAX_LISTS} lists")
    lists = tuple(
        FormList(
            list_id=text_line(f"form.lists[{i}].list_id", m.list_id, required=True),
            name=text_line(f"form.lists[{i}].name", m.name, required=len(msgs) > 1),
        )
        for i, m in enumerate(msgs)
    )
    if len({item.list_id for item in lists}) != len(lists):
        raise InvalidArgument("form.lists", "a list_id appears twice")
    return lists


def branding(field: str, msg: signups_pb2.Branding) -> Branding:
    """Check a logo URL and colours; raises InvalidArgument naming the field."""
    return Branding(
        logo_url=_url(f"{field}.logo_url", msg.logo_url),
        accent_color=_color(f"{field}.accent_color", msg.accent_color),
        background_color=_color(f"{field}.background_color", msg.background_color),
        text_color=_color(f"{field}.text_color", msg.text_color),
    )


def look(msg: signups_pb2.SetBrandingRequest) -> Look:
    """Check a tenant's look; raises InvalidArgument naming the field."""
    if msg.language and msg.language not in LANGUAGES:
        raise InvalidArgument("language", f"one of {', '.join(LANGUAGES)}, or empty")
    return Look(branding=branding("branding", msg.branding), language=msg.language)


def form(msg: signups_pb2.Form) -> Form:
    """Check a pushed definition; raises InvalidArgument naming the field."""
    if not FORM_ID.fullmatch(msg.form_id):
        raise InvalidArgument("form.form_id", "3-64 letters, digits, '-' or '_'")
    if len(msg.fields) > _MAX_FIELDS:
        raise InvalidArgument("form.fields", f"at most {_MAX_FIELDS} fields")
    fields = tuple(_field(i, f) for i, f in enumerate(msg.fields))
    if len({f.name for f in fields}) != len(fields):
        raise InvalidArgument("form.fields", "a field name appears twice")
    if msg.language and msg.language not in LANGUAGES:
        raise InvalidArgument("form.language", f"one of {', '.join(LANGUAGES)}, or empty")
    sender = requests.sender("form.sender", msg.sender)
    mail = msg.confirmation
    if mail.html or mail.text:
        requests.content(
            "form.confirmation",
            common_pb2.Content(subject=mail.subject or "-", html=mail.html, text=mail.text),
        )
        if "confirm_url" not in mail.html + mail.text:
            raise InvalidArgument("form.confirmation", "must contain the link {{ confirm_url }}")
    elif mail.subject:
        requests.content("form.confirmation", common_pb2.Content(subject=mail.subject, text="-"))
    return Form(
        form_id=msg.form_id,
        title=text_line("form.title", msg.title, required=True, limit=500),
        description=_paragraph("form.description", msg.description),
        lists=_lists(list(msg.lists)),
        fields=fields,
        consent_text=_paragraph("form.consent.text", msg.consent.text),
        consent_version=text_line("form.consent.version", msg.consent.version),
        success_message=_paragraph("form.success_message", msg.success_message),
        error_message=_paragraph("form.error_message", msg.error_message),
        confirmed_message=_paragraph("form.confirmed_message", msg.confirmed_message),
        branding=branding("form.branding", msg.branding),
        language=msg.language,
        single_opt_in=msg.single_opt_in,
        confirm_subject=mail.subject,
        confirm_html=mail.html,
        confirm_text=mail.text,
        from_address=sender.from_address,
        from_name=sender.from_name,
        reply_to=sender.reply_to,
        daily_cap=msg.daily_cap,
        closed=msg.closed,
    )


def form_message(f: Form) -> signups_pb2.Form:
    """The definition as the contract has it."""
    return signups_pb2.Form(
        form_id=f.form_id,
        title=f.title,
        description=f.description,
        lists=[signups_pb2.FormList(list_id=i.list_id, name=i.name) for i in f.lists],
        fields=[
            signups_pb2.FormField(
                name=x.name,
                label=x.label,
                type=signups_pb2.FieldType.ValueType(int(x.type)),
                required=x.required,
                choices=list(x.choices),
                max_length=x.max_length,
            )
            for x in f.fields
        ],
        consent=signups_pb2.ConsentText(text=f.consent_text, version=f.consent_version),
        success_message=f.success_message,
        error_message=f.error_message,
        confirmed_message=f.confirmed_message,
        branding=signups_pb2.Branding(**f.branding.model_dump()),
        language=f.language,
        single_opt_in=f.single_opt_in,
        confirmation=signups_pb2.ConfirmationMail(
            subject=f.confirm_subject, html=f.confirm_html, text=f.confirm_text
        ),
        sender=common_pb2.Sender(
            from_address=f.from_address, from_name=f.from_name, reply_to=f.reply_to
        ),
        daily_cap=f.daily_cap,
        closed=f.closed,
    )


def form_url(base_url: str, form_id: str) -> str:
    """The hosted page's address."""
    return f"{base_url}/f/{form_id}"


def form_info(stored: StoredForm, base_url: str) -> signups_pb2.FormInfo:
    """A stored form as the contract has it."""
    return signups_pb2.FormInfo(
        form=form_message(Form.model_validate_json(stored.definition)),
        url=form_url(base_url, stored.form_id),
        updated_at=timestamp(stored.updated_at),
        signups_today=stored.signups_today,
    )


def signup(s: SignupRow) -> signups_pb2.Signup:
    """A signup with its consent record."""
    consent = s.consent
    record = signups_pb2.ConsentRecord(
        form_id=s.form_id,
        time=timestamp(consent.time),
        ip=consent.ip,
        user_agent=consent.user_agent,
        consent_text=consent.text,
        consent_version=consent.version,
        confirm_ip=consent.confirm_ip,
        confirm_user_agent=consent.confirm_user_agent,
    )
    if consent.confirmed_at is not None:
        record.confirmed_at.CopyFrom(timestamp(consent.confirmed_at))
    out = signups_pb2.Signup(
        signup_id=s.signup_id,
        form_id=s.form_id,
        email=s.email,
        fields=s.fields,
        lists=s.lists,
        status=signups_pb2.SignupStatus.ValueType(int(s.state)),
        language=s.language,
        consent=record,
    )
    if s.expires_at is not None:
        out.expires_at.CopyFrom(timestamp(s.expires_at))
    return out


def change(c: Change) -> signups_pb2.SignupChange:
    """One signup change with its signup and consent record, or an address's change."""
    out = signups_pb2.SignupChange(
        seq=c.seq,
        time=timestamp(c.time),
        kind=signups_pb2.SignupChangeKind.ValueType(int(c.kind)),
        email=c.email,
        fields=c.fields,
        lists=c.lists,
    )
    if c.signup_or_none is not None:
        out.signup.CopyFrom(signup(c.signup_or_none))
    return out
