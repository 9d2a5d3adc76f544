"""Every public page of a real agent, in a real browser (headless Chromium), in English,
French, German and Spanish: the form, its confirmation, the preference center, the unsubscribe
page, the web version and the lists' archive; and a form filled and sent through the browser is
stored.

Screenshots land in tests/artifacts/pages/ (PAGE-LANGUAGE.png), to be looked at.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailfleet.v1 import capture_pb2, common_pb2, signups_pb2
from tests.agent.builders import batches, campaign_request, start_and_wait
from tests.agent.signup.helpers import changes, confirmation_link
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.chromium import Chromium, Tab

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "pages"
LANGUAGES = ("en", "fr", "de", "es")
# What a marketer writes in each language: the form's title, its first-name label, its lists'
# names and its consent statement.
_WORDS = {
    "en": ("Our newsletter", "First name", ("News", "Offers"), "I want the newsletter."),
    "fr": ("Notre lettre", "Prénom", ("Nouvelles", "Offres"), "Je veux recevoir la lettre."),
    "de": ("Unser Newsletter", "Vorname", ("Neuigkeiten", "Angebote"), "Ich will den Newsletter."),
    "es": ("Nuestro boletín", "Nombre", ("Noticias", "Ofertas"), "Quiero recibir el boletín."),
}
HTML = (
    "<html><body><h1>Hello {{ first_name }}</h1><p>This week in the shop.</p>"
    '<p><a href="{{ preferences_url }}">Your lists</a> ·'
    ' <a href="{{ web_version_url }}">View in your browser</a></p></body></html>'
)


def _form(language: str) -> signups_pb2.Form:
    title, first_name, (news, offers), consent = _WORDS[language]
    return signups_pb2.Form(
        form_id=f"form-{language}",
        title=title,
        lists=[
            signups_pb2.FormList(list_id="news", name=news),
            signups_pb2.FormList(list_id="sale", name=offers),
        ],
        fields=[
            signups_pb2.FormField(
                name="first_name",
                label=first_name,
                type=signups_pb2.FIELD_TYPE_TEXT,
                required=True,
                max_length=20,
            )
        ],
        consent=signups_pb2.ConsentText(text=consent, version="1"),
        branding=signups_pb2.Branding(accent_color="#2456a6"),
        language=language,
        sender=common_pb2.Sender(from_address="news@shop.example", from_name="Shop"),
    )


def _campaign(stubs: Stubs, language: str) -> None:
    """A campaign for both lists in ``language`` to reader-LANGUAGE@example.com."""
    request = campaign_request(
        f"browser-{language}",
        content=common_pb2.Content(subject="News for {{ first_name }}", html=HTML),
    )
    del request.tags[:]
    request.tags.extend(["list:news", "list:sale", f"lang:{language}", "archive"])
    c = stubs.campaigns.CreateCampaign(request)
    reader = common_pb2.Recipient(email=f"reader-{language}@example.com", values=["Ann", "Paris"])
    stubs.campaigns.UploadRecipients(batches(c.id, [reader]))
    start_and_wait(stubs, c.id)


def _links(stubs: Stubs, address: str) -> dict[str, str]:
    """The preference, web version and unsubscribe links of the mail ``address`` got."""
    listed = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=1000)).messages
    (captured,) = [m for m in listed if m.rcpt_to == address]
    item = stubs.capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=captured.id))
    msg = email.message_from_bytes(item.data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("html",))
    assert part is not None
    html = str(part.get_content())
    (preferences,) = re.findall(r'href="(https?://[^"]+/p/[0-9a-f]+)"', html)
    (web_version,) = re.findall(r'href="(https?://[^"]+/v/[0-9a-f]+)"', html)
    (unsubscribe,) = re.findall(r"<(https?://[^>]+/u/[0-9a-f]+)>", str(msg["List-Unsubscribe"]))
    return {"preferences": preferences, "web-version": web_version, "unsubscribe": unsubscribe}


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stubs]:
    proc = AgentProcess(
        tmp_path_factory.mktemp("browser") / "agent",
        extra_config="[signup]\nmin_fill_seconds = 0\nposts_per_minute = 1000\n",
    )
    proc.start()
    try:
        stubs = proc.stubs()
        for language in LANGUAGES:
            stubs.signups.PutForm(signups_pb2.PutFormRequest(form=_form(language)))
            _campaign(stubs, language)
        yield stubs
    finally:
        proc.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    with Chromium() as browser:
        yield browser


async def _shot(tab: Tab, url: str, name: str, language: str, *, ours: bool = True) -> str:
    """Open ``url`` in ``language``, check it is a page of ours in that language (unless not
    ``ours``: a message's web version is the marketer's HTML), screenshot it; the text it
    shows."""
    assert await tab.open(url, language) == 200, url
    if ours:
        assert await tab.evaluate("document.documentElement.lang") == language
    await tab.screenshot(ARTIFACTS / f"{name}-{language}.png")
    return await tab.text()


async def test_every_public_page_shows_in_every_language(stubs: Stubs, chromium: Chromium) -> None:
    async with chromium.tab() as tab:
        for language in LANGUAGES:
            title, _, lists, consent = _WORDS[language]
            form = stubs.signups.ListForms(signups_pb2.ListFormsRequest()).forms
            (url,) = [f.url for f in form if f.form.form_id == f"form-{language}"]
            shown = await _shot(tab, url, "form", language)
            assert title in shown and consent in shown and all(n in shown for n in lists)

            address = f"visitor-{language}@example.com"
            stubs.signups.Subscribe(
                signups_pb2.SubscribeRequest(
                    idempotency_key=f"browser-{language}",
                    form_id=f"form-{language}",
                    email=address,
                    fields={"first_name": "Ann"},
                    language=language,
                )
            )
            await _shot(tab, confirmation_link(stubs, address), "confirm", language)
            assert await tab.press("[type=submit]") == 200
            await tab.screenshot(ARTIFACTS / f"confirmed-{language}.png")
            confirmed = changes(stubs)[-1]
            assert confirmed.kind == signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED
            assert confirmed.signup.email == address

            links = _links(stubs, f"reader-{language}@example.com")
            # the lists as the form in the page's language names them
            shown = await _shot(tab, links["preferences"], "preferences", language)
            assert all(n in shown for n in lists), shown
            await _shot(tab, links["unsubscribe"], "unsubscribe", language)
            shown = await _shot(tab, links["web-version"], "web-version", language, ours=False)
            assert "Hello Ann" in shown

            # the lists' public archive: the campaign for them in the form's language (the
            # others are in the other forms' archives), without any reader
            shown = await _shot(tab, f"{url}/archive", "archive", language)
            assert shown.count("News for") == 1
            assert await tab.press("li a") == 200
            await tab.screenshot(ARTIFACTS / f"archive-issue-{language}.png")
            assert "Ann" not in await tab.text()


async def test_a_form_sent_through_the_browser_is_stored(stubs: Stubs, chromium: Chromium) -> None:
    url = stubs.signups.GetFormSnippet(signups_pb2.GetFormSnippetRequest(form_id="form-fr")).url
    before = changes(stubs)
    async with chromium.tab() as tab:
        await _shot(tab, url, "form", "fr")
        # a first name past the form's 20 characters: the page again (400), the error under it
        values = {"email": "zoe@example.com", "first_name": "Z" * 30}
        assert await tab.submit(values, ("#l-news", "#f-consent")) == 400
        await tab.screenshot(ARTIFACTS / "form-refused-fr.png")
        assert await tab.evaluate("document.querySelectorAll('.problem').length") == 1
        assert changes(stubs) == before

        assert await tab.submit({"first_name": "Zoé"}) == 200
        await tab.screenshot(ARTIFACTS / "form-sent-fr.png")
    (stored,) = changes(stubs, before[-1].seq)
    assert stored.kind == signups_pb2.SIGNUP_CHANGE_KIND_SIGNED_UP
    signup = stored.signup
    assert (signup.email, signup.fields["first_name"], list(signup.lists)) == (
        "zoe@example.com",
        "Zoé",
        ["news"],
    )
    assert signup.language == "fr" and "HeadlessChrome" in signup.consent.user_agent
    assert signup.consent.consent_text == _WORDS["fr"][3]
