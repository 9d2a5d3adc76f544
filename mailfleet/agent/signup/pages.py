"""The public signup pages as HTML: the form, its confirmation step and the messages after,
in the form's branding and language. Every value is escaped; the strings are the
catalogue's (:mod:`mailfleet.agent.pages.catalogue`) or the marketer's own.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailfleet.agent.pages.catalogue import text
from mailfleet.agent.signup.forms import FieldType, Form, FormField

_DEFAULT_ACCENT = "#2456a6"
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


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _document(form: Form | None, language: str, title: str, body: str) -> str:
    brand = form.branding if form is not None else None
    accent = (brand.accent_color if brand else "") or _DEFAULT_ACCENT
    background = (brand.background_color if brand else "") or "#ffffff"
    color = (brand.text_color if brand else "") or "#1d1d1f"
    logo = f'<img class=logo src="{_e(brand.logo_url)}" alt="">' if brand and brand.logo_url else ""
    return (
        f"<!doctype html><html lang={_e(language)}><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<meta name=robots content=noindex><title>{_e(title)}</title><style>"
        f"body{{font-family:sans-serif;background:{_e(background)};color:{_e(color)};"
        "max-width:32em;margin:2em auto;padding:0 1em}"
        f"button{{background:{_e(accent)};color:#fff;border:0;padding:.6em 1.4em;"
        "font-size:1em;border-radius:4px;cursor:pointer}"
        f"a{{color:{_e(accent)}}}label{{display:block;margin:.8em 0 .2em}}"
        "input[type=text],input[type=email],input[type=number],input[type=date],select"
        "{width:100%;padding:.4em;font-size:1em;box-sizing:border-box}"
        ".check label{display:inline;margin-left:.3em}.problem{color:#b00020;margin:.2em 0}"
        ".banner{border-left:4px solid #b00020;padding:.4em .8em}"
        ".logo{max-height:4em;max-width:100%;display:block;margin-bottom:1em}"
        f".hp{{position:absolute;left:-10000px}}</style></head><body>{logo}{body}</body></html>"
    )


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
    return _document(form, language, form.title, "".join(parts))


def message_page(form: Form | None, language: str, title: str, message: str, link: str = "") -> str:
    """A page with one message (and a link back to the form when ``link`` is set)."""
    back = f'<p><a href="{_e(link)}">{_e(text("sign_up_again", language))}</a></p>' if link else ""
    return _document(form, language, title, f"<h1>{_e(title)}</h1><p>{_e(message)}</p>{back}")


def confirm_page(form: Form, language: str, email: str) -> str:
    """The confirmation step: a button that POSTs; nothing is confirmed by opening it."""
    title = text("confirm_title", language)
    question = text("confirm_question", language).format(email=email)
    return _document(
        form,
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


def preferences_page(
    language: str, email: str, choices: list[ListChoice], unsubscribe_url: str
) -> str:
    """The preference center: a tick box per list of the message (the form POSTs), and a
    button that leaves everything through the one-click unsubscribe URL."""
    title = text("preferences_title", language)
    parts = [f"<h1>{_e(title)}</h1>"]
    if choices:
        intro = _e(text("preferences_intro", language)).replace("{email}", f"<b>{_e(email)}</b>")
        parts.append(f"<p>{intro}</p><form method=post>")
        for choice in choices:
            lid = _e(choice.list_id)
            checked = " checked" if choice.subscribed else ""
            parts.append(
                f'<div class=check><input type=checkbox id=l-{lid} name=keep value="{lid}"'
                f"{checked}><label for=l-{lid}>{_e(choice.name)}</label></div>"
            )
        parts.append(
            f"<p><button type=submit>{_e(text('preferences_save', language))}</button></p></form>"
        )
    else:
        parts.append(f"<p>{_e(text('preferences_none', language))}</p>")
    parts.append(
        f'<form method=post action="{_e(unsubscribe_url)}">'
        "<input type=hidden name=List-Unsubscribe value=One-Click>"
        f"<button type=submit>{_e(text('leave_everything', language))}</button></form>"
    )
    return _document(None, language, title, "".join(parts))


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
    return _document(
        form, language, title, f"<h1>{_e(form.title)}</h1><h2>{_e(title)}</h2>{listing}{signup}"
    )
