"""The one HTML shell of every public page the agent serves (signup forms, confirmation,
preferences, unsubscribe, archive, the 404 page): a brand's logo and colours around a body,
in one language, with the headers that keep the pages out of caches and search engines.
"""

from __future__ import annotations

import html
import sqlite3

from aiohttp import web
from pydantic import BaseModel

from mailfleet.agent.pages.catalogue import text
from mailfleet.agent.store import signups

HEADERS = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
_DEFAULT_ACCENT = "#2456a6"


class Branding(BaseModel):
    """Logo and colours (checked: an http(s) URL and ``#rrggbb`` values); empty: the default."""

    logo_url: str = ""
    accent_color: str = ""
    background_color: str = ""
    text_color: str = ""

    def over(self, fallback: Branding | None) -> Branding:
        """This branding, each part it leaves empty taken from ``fallback`` (a form's own
        branding over the workspace's)."""
        if fallback is None:
            return self
        mine = self.model_dump()
        return Branding(**{k: mine[k] or v for k, v in fallback.model_dump().items()})


class Look(BaseModel):
    """A workspace's (tenant's) look for every public page: its branding, under which a form's
    own wins part by part, and the language its campaign pages fall back to when neither the
    campaign nor the browser names one the catalogue has ("": English)."""

    branding: Branding = Branding()
    language: str = ""


def tenant_look(conn: sqlite3.Connection, tenant_id: int) -> Look:
    """The tenant's look as set over the API (``Signups.SetBranding``), else the default."""
    stored = signups.look(conn, tenant_id)
    return Look.model_validate_json(stored) if stored else Look()


def escape(value: str) -> str:
    """``value`` safe inside HTML text and quoted attributes."""
    return html.escape(value, quote=True)


def document(brand: Branding | None, language: str, title: str, body: str) -> str:
    """A whole page: ``body`` (HTML) under the brand's logo, in its colours."""
    brand = brand or Branding()
    accent = brand.accent_color or _DEFAULT_ACCENT
    background = brand.background_color or "#ffffff"
    color = brand.text_color or "#1d1d1f"
    logo = f'<img class=logo src="{escape(brand.logo_url)}" alt="">' if brand.logo_url else ""
    return (
        f"<!doctype html><html lang={escape(language)}><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<meta name=robots content=noindex><title>{escape(title)}</title><style>"
        f"body{{font-family:sans-serif;background:{escape(background)};color:{escape(color)};"
        "max-width:32em;margin:2em auto;padding:0 1em}"
        f"button{{background:{escape(accent)};color:#fff;border:0;padding:.6em 1.4em;"
        "font-size:1em;border-radius:4px;cursor:pointer}"
        f"a{{color:{escape(accent)}}}label{{display:block;margin:.8em 0 .2em}}"
        "input[type=text],input[type=email],input[type=number],input[type=date],select"
        "{width:100%;padding:.4em;font-size:1em;box-sizing:border-box}"
        ".check label{display:inline;margin-left:.3em}.problem{color:#b00020;margin:.2em 0}"
        ".banner{border-left:4px solid #b00020;padding:.4em .8em}"
        ".logo{max-height:4em;max-width:100%;display:block;margin-bottom:1em}"
        "fieldset{border:1px solid #ccc;border-radius:4px;margin:1em 0}"
        f".hp{{position:absolute;left:-10000px}}</style></head><body>{logo}{body}</body></html>"
    )


def message_page(
    brand: Branding | None, language: str, title: str, message: str, link: str = ""
) -> str:
    """A page with one message (and a link back to a form when ``link`` is set)."""
    back = (
        f'<p><a href="{escape(link)}">{escape(text("sign_up_again", language))}</a></p>'
        if link
        else ""
    )
    return document(
        brand, language, title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{back}"
    )


def respond(body: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """An HTML page as the answer, with :data:`HEADERS` (and ``headers``)."""
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**HEADERS, **(headers or {})},
    )


def not_found(language: str, brand: Branding | None = None) -> web.Response:
    """The 404 page every public endpoint answers for what does not exist (or a token that
    does not verify), in ``language``."""
    title = text("not_found_title", language)
    return respond(message_page(brand, language, title, text("not_found", language)), 404)
