"""A list's public archive: ``/f/<form_id>/archive`` lists the campaigns a marketer chose to
publish (tagged ``archive``) for the form's lists (``list:<id>``), newest first, and
(those of a form in one language: the campaigns in that language, a tag ``lang:xx``, or in
none), and ``/f/<form_id>/archive/<campaign_id>`` shows one as mail to nobody in particular: its
templates rendered with no recipient (merge fields empty, ``{{ email }}`` a placeholder), its
unsubscribe and preference links leading to the form, no open pixel, no rewritten links.
Nothing about any recipient is read. Campaigns not tagged ``archive``, another tenant's, and
those not yet started get the translated 404 page.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from jinja2 import TemplateError as RunError

from mailfleet.agent.delivery.settings import DeliverySettings
from mailfleet.agent.model import CampaignSpec
from mailfleet.agent.pages import catalogue
from mailfleet.agent.pages.document import not_found
from mailfleet.agent.render.message import Renderer, RenderError
from mailfleet.agent.render.templates import TemplateError, compile_template
from mailfleet.agent.signup import pages
from mailfleet.agent.signup.forms import Form
from mailfleet.agent.signup.record import list_scope
from mailfleet.agent.signup.web_version import body_of
from mailfleet.agent.store import campaigns, signups
from mailfleet.agent.store.signups import StoredForm
from mailfleet.agent.web.server import SETTINGS_KEY, STORE_KEY, Mount

# The tag that publishes a campaign in the archive of its lists.
ARCHIVE_TAG = "archive"
# What {{ email }} shows in an archived issue: nobody's address.
PLACEHOLDER_ADDRESS = "you@example.com"
_LIMIT = 200
_HEADERS = {
    "Cache-Control": "public, max-age=300",
    "Referrer-Policy": "no-referrer",
    # the sender's HTML, shown as mail clients show it: without scripts
    "Content-Security-Policy": "script-src 'none'; object-src 'none'; base-uri 'none'",
}


@dataclass(frozen=True)
class _Found:
    stored: StoredForm
    form: Form
    issues: list[tuple[int, float, CampaignSpec]]


def _read(conn: sqlite3.Connection, form_id: str, now: float) -> _Found | None:
    stored = signups.form_by_id(conn, form_id, now)
    if stored is None:
        return None
    form = Form.model_validate_json(stored.definition)
    scopes = [list_scope(item.list_id) for item in form.lists]
    issues = campaigns.archived(conn, stored.tenant_id, ARCHIVE_TAG, scopes, _LIMIT)
    return _Found(stored, form, [i for i in issues if _in_language(i[2], form.language)])


def _in_language(spec: CampaignSpec, language: str) -> bool:
    """Whether a campaign belongs in the archive of a form in ``language``: one in another
    language (a tag ``lang:xx``) is left to that language's form."""
    tag = catalogue.LANGUAGE_TAG
    languages = {t.removeprefix(tag) for t in spec.tags if t.startswith(tag)}
    return not language or not languages or language in languages


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS
    )


def _subject(spec: CampaignSpec) -> str:
    """The subject as nobody in particular would get it."""
    try:
        shown = compile_template(spec.content.subject, html=False).render(email=PLACEHOLDER_ADDRESS)
    except (TemplateError, RunError):  # checked when the campaign was made; still, no 500
        return spec.name
    return str(shown).strip() or spec.name


class Archive:
    """The archive's handlers."""

    def __init__(self, delivery: DeliverySettings) -> None:
        self._renderer = Renderer(
            "archive.mailfleet", delivery.render_timeout_seconds, delivery.render_max_bytes
        )

    def mount(self, app: web.Application) -> None:
        """Add the routes (the ``Mount`` the web server takes)."""
        app.router.add_get("/f/{form_id}/archive", self.index, allow_head=False)
        app.router.add_get("/f/{form_id}/archive/{campaign_id}", self.issue, allow_head=False)

    async def _found(self, request: web.Request) -> _Found | None:
        form_id, now = request.match_info["form_id"], time.time()
        return await request.app[STORE_KEY].read(lambda c: _read(c, form_id, now))

    def _not_found(self, request: web.Request, form: Form | None) -> web.Response:
        return not_found(self._language(request, form), form.branding if form else None)

    def _language(self, request: web.Request, form: Form | None) -> str:
        if form is not None and form.language in catalogue.LANGUAGES:
            return form.language
        return catalogue.pick_language(request.headers.get("Accept-Language", ""))

    async def index(self, request: web.Request) -> web.Response:
        """GET: the published issues of the form's lists."""
        found = await self._found(request)
        if found is None:
            return self._not_found(request, None)
        base = f"{request.app[SETTINGS_KEY].base_url}/f/{found.stored.form_id}"
        issues = [
            (
                datetime.fromtimestamp(created, UTC).date().isoformat(),
                _subject(spec),
                f"{base}/archive/{campaign_id}",
            )
            for campaign_id, created, spec in found.issues
        ]
        language = self._language(request, found.form)
        return _html(pages.archive_page(found.form, language, issues, base))

    async def issue(self, request: web.Request) -> web.Response:
        """GET: one published issue, rendered for nobody in particular."""
        found = await self._found(request)
        wanted = request.match_info["campaign_id"]
        chosen = [
            (cid, spec) for cid, _, spec in (found.issues if found else []) if str(cid) == wanted
        ]
        if found is None or not chosen:
            return self._not_found(request, found.form if found else None)
        campaign_id, spec = chosen[0]
        form_url = f"{request.app[SETTINGS_KEY].base_url}/f/{found.stored.form_id}"
        try:
            # off the event loop: a long template must not hold up the other requests
            data = await asyncio.to_thread(
                self._renderer.render,
                message_id=campaign_id,
                sender=spec.sender,
                content=spec.content,
                to_email=PLACEHOLDER_ADDRESS,
                to_name="",
                fields={},
                agent_variables={
                    "unsubscribe_url": form_url,
                    "preferences_url": form_url,
                    "web_version_url": f"{form_url}/archive/{campaign_id}",
                },
            )
        except RenderError:
            return self._not_found(request, found.form)
        return _html(body_of(data))


def mount(delivery: DeliverySettings) -> Mount:
    """The archive as a ``Mount`` for :class:`mailfleet.agent.web.server.WebServer`."""
    return Archive(delivery).mount
