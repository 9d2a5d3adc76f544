"""The public signup pages as HTML: the form, its confirmation step and the messages after,
in the form's branding and language. Every value is escaped; the strings are the
catalogue's (:mod:`mailfleet.agent.pages.catalogue`) or the marketer's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mailfleet.agent.pages.catalogue import text
from mailfleet.agent.pages.document import Branding, document
from mailfleet.agent.pages.document import escape as _e
from mailfleet.agent.signup.forms import FieldType, Form, FormField

# The honeypot: a field people never see (off-screen, skipped by the tab key and by
# autofill); a post that fills it is a bot's.
HONEYPOT = "website"


@dataclass(frozen=True)
class Filled:
    """What a refused post had: its values, the chosen lists, each field's problem (a
    catalogue id) and a line about the post as a whole."""

    values: Mapping[str, str] = field(default_factory=dict)
    chosen_lists: tuple[str, ...] = ()
    problems: Mapping[str, str] = field(default_factory=dict)
    banner: str = ""


def _problem(problems: Mapping[str, str], name: str, language: str) -> str:
    problem = problems.get(name)
    return (
        f"<p class=problem id=problem-{_e(name)}>{_e(text(problem, language))}</p>"
        if problem
        else ""
    )


def _input(spec: FormField, value: str, problems: Mapping[str, str], language: str) -> str:
    name = _e(spec.name)
    required = " required" if spec.required else ""
    label = _e(spec.label) + (" *" if spec.required else "")
    if spec.type is FieldType.CHECKBOX:
        checked = " checked" if value else ""
        return (
            f"<div class=check><input type=checkbox id=f-{name} name={name} value=1"
            f"{checked}{required}><label for=f-{name}>{label}</label></div>"
            + _problem(problems, spec.name, language)
        )
    field = f"<label for=f-{name}>{label}</label>"
    if spec.type is FieldType.CHOICE:
        options = "".join(
            f"<option{' selected' if c == value else ''}>{_e(c)}</option>" for c in spec.choices
        )
        field += (
            f"<select id=f-{name} name={name}{required}>"
            f'<option value=""></option>{options}</select>'
        )
    else:
        kind = {FieldType.NUMBER: "number", FieldType.DATE: "date"}.get(spec.type, "text")
        extra = ' step="any"' if spec.type is FieldType.NUMBER else ""
        field += f'<input type={kind} id=f-{name} name={name} value="{_e(value)}"{extra}{required}>'
    return field + _problem(problems, spec.name, language)


def form_page(form: Form, language: str, token: str, filled: Filled | None = None) -> str:
    """The form (after a refused post: filled again, with its problems marked)."""
    filled = filled or Filled()
    values, problems, chosen_lists, banner = (
        filled.values,
        filled.problems,
        filled.chosen_lists,
        filled.banner,
    )
    parts = [f"<h1>{_e(form.title)}</h1>"]
    if form.description:
        parts.append(f"<p>{_e(form.description)}</p>")
    if problems and not banner:
        banner = form.error_message or text("error", language)
    if banner:
        parts.append(f"<p class=banner role=alert>{_e(banner)}</p>")
    parts.append("<form method=post>")
    parts.append(
        f"<label for=f-email>{_e(text('email', language))} *</label>"
        f'<input type=email id=f-email name=email value="{_e(values.get("email", ""))}"'
        " required autocomplete=email>" + _problem(problems, "email", language)
    )
    parts.extend(
        _input(spec, values.get(spec.name, ""), problems, language) for spec in form.fields
    )
    if len(form.lists) > 1:
        parts.append(f"<fieldset><legend>{_e(text('lists', language))}</legend>")
        for item in form.lists:
            checked = " checked" if item.list_id in chosen_lists else ""
            lid = _e(item.list_id)
            parts.append(
                f'<div class=check><input type=checkbox id=l-{lid} name=list value="{lid}"'
                f"{checked}><label for=l-{lid}>{_e(item.name)}</label></div>"
            )
        parts.append("</fieldset>" + _problem(problems, "list", language))
    if form.consent_text:
        checked = " checked" if values.get("consent") else ""
        parts.append(
            f"<div class=check><input type=checkbox id=f-consent name=consent value=1"
            f"{checked} required><label for=f-consent>{_e(form.consent_text)}</label></div>"
            + _problem(problems, "consent", language)
        )
    parts.append(
        f"<div class=hp aria-hidden=true><label for=f-hp>Website</label><input type=text"
        f" id=f-hp name={HONEYPOT} tabindex=-1 autocomplete=off></div>"
        f'<input type=hidden name=t value="{_e(token)}">'
        f"<p><button type=submit>{_e(text('subscribe', language))}</button></p></form>"
    )
    return document(form.branding, language, form.title, "".join(parts))


def confirm_page(form: Form, language: str, email: str) -> str:
    """The confirmation step: a button that POSTs; nothing is confirmed by opening it."""
    title = text("confirm_title", language)
    question = text("confirm_question", language).format(email=email)
    return document(
        form.branding,
        language,
        title,
        f"<h1>{_e(title)}</h1><p>{_e(question)}</p><form method=post>"
        f"<button type=submit>{_e(text('confirm_button', language))}</button></form>",
    )


@dataclass(frozen=True)
class ListChoice:
    """A list a recipient can stay on or leave in the preference center."""

    list_id: str
    name: str
    subscribed: bool


@dataclass(frozen=True)
class Preferences:
    """What the preference center offers one recipient: its lists, the fields it may edit and
    the one-click unsubscribe URL that leaves everything."""

    email: str
    choices: list[ListChoice]
    fields: tuple[FormField, ...]
    unsubscribe_url: str


def _editable(spec: FormField, value: str, problems: Mapping[str, str], language: str) -> str:
    # An unticked checkbox posts nothing: the hidden empty value before it says "untick".
    hidden = (
        f'<input type=hidden name={_e(spec.name)} value="">'
        if spec.type is FieldType.CHECKBOX
        else ""
    )
    return hidden + _input(spec, value, problems, language)


def preferences_page(
    language: str, offer: Preferences, filled: Filled, brand: Branding | None = None
) -> str:
    """The preference center: the recipient's fields and a tick box per list of the message
    in one form that POSTs (after a refused post: filled again, its problems marked), and a
    button that leaves everything through the one-click unsubscribe URL."""
    title = text("preferences_title", language)
    parts = [f"<h1>{_e(title)}</h1>"]
    if filled.problems:
        parts.append(f"<p class=banner role=alert>{_e(text('error', language))}</p>")
    if offer.choices or offer.fields:
        parts.append("<form method=post>")
    if offer.fields:
        parts.append(f"<fieldset><legend>{_e(text('preferences_fields', language))}</legend>")
        parts.extend(
            _editable(spec, filled.values.get(spec.name, ""), filled.problems, language)
            for spec in offer.fields
        )
        parts.append("</fieldset>")
    if offer.choices:
        intro = _e(text("preferences_intro", language)).replace(
            "{email}", f"<b>{_e(offer.email)}</b>"
        )
        parts.append(f"<p>{intro}</p>")
        for choice in offer.choices:
            lid = _e(choice.list_id)
            ticked = choice.list_id in filled.chosen_lists if filled.problems else choice.subscribed
            checked = " checked" if ticked else ""
            parts.append(
                f'<div class=check><input type=checkbox id=l-{lid} name=keep value="{lid}"'
                f"{checked}><label for=l-{lid}>{_e(choice.name)}</label></div>"
            )
    else:
        parts.append(f"<p>{_e(text('preferences_none', language))}</p>")
    if offer.choices or offer.fields:
        parts.append(
            f"<p><button type=submit>{_e(text('preferences_save', language))}</button></p></form>"
        )
    parts.append(
        f'<form method=post action="{_e(offer.unsubscribe_url)}">'
        "<input type=hidden name=List-Unsubscribe value=One-Click>"
        f"<button type=submit>{_e(text('leave_everything', language))}</button></form>"
    )
    return document(brand, language, title, "".join(parts))


def snippet(url: str, title: str) -> str:
    """The HTML that embeds the hosted form in another page."""
    return (
        f'<iframe src="{_e(url)}" title="{_e(title)}" style="width:100%;max-width:36em;'
        f'height:36em;border:0" loading="lazy"><a href="{_e(url)}">{_e(title)}</a></iframe>'
    )


def archive_page(
    form: Form, language: str, issues: list[tuple[str, str, str]], form_url: str
) -> str:
    """A list's public archive: (date, subject, address) of each issue, newest first, and a
    link to the form."""
    title = text("archive_title", language)
    if issues:
        items = "".join(
            f'<li>{_e(day)} · <a href="{_e(url)}">{_e(subject)}</a></li>'
            for day, subject, url in issues
        )
        listing = f"<ul>{items}</ul>"
    else:
        listing = f"<p>{_e(text('archive_empty', language))}</p>"
    signup = f'<p><a href="{_e(form_url)}">{_e(text("subscribe", language))}</a></p>'
    return document(
        form.branding,
        language,
        title,
        f"<h1>{_e(form.title)}</h1><h2>{_e(title)}</h2>{listing}{signup}",
    )
