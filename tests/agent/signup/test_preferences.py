"""The preference center of a real agent: a campaign message's {{ preferences_url }} lets its
recipient leave one list (a scoped unsubscribe that later campaigns for that list honour)
and a confirmed signup for the list lifts it again."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from mailfleet.v1 import (
    campaigns_pb2,
    capture_pb2,
    common_pb2,
    events_pb2,
    signups_pb2,
    suppression_pb2,
)
from tests.agent.builders import batches, campaign_request, wait_until
from tests.agent.signup.helpers import (
    changes,
    confirmation_link,
    filled,
    form_definition,
    get,
    post,
)
from tests.peers.agent import AgentProcess, Stubs

ADDRESS = "ann@example.com"


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    proc = AgentProcess(tmp_path / "agent", extra_config="[signup]\nmin_fill_seconds = 0\n")
    proc.start()
    try:
        yield proc
    finally:
        proc.close()


def _campaign(
    stubs: Stubs, key: str, lists: list[str], tags: tuple[str, ...] = ()
) -> common_pb2.StateCounts:
    """Send a campaign for ``lists`` to ADDRESS; its counts once it has completed."""
    request = campaign_request(
        key,
        content=common_pb2.Content(
            subject="News", text="Hi {{ first_name }}. Your lists: {{ preferences_url }}\n"
        ),
    )
    del request.tags[:]
    request.tags.extend([*(f"list:{name}" for name in lists), *tags])
    c = stubs.campaigns.CreateCampaign(request)
    stubs.campaigns.UploadRecipients(
        batches(c.id, [common_pb2.Recipient(email=ADDRESS, values=["Ann", "Paris"])])
    )
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    wait_until(
        lambda: stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED,
        30,
        "the campaign to complete",
    )
    return stubs.campaigns.GetCampaign(ref).counts


def _preferences_url(stubs: Stubs) -> str:
    listed = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=1000)).messages
    newest = max((m for m in listed if m.rcpt_to == ADDRESS), key=lambda m: m.id)
    item = stubs.capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=newest.id))
    msg = email.message_from_bytes(item.data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None
    (url,) = re.findall(r"https?://\S+/p/[0-9a-f]+", body.get_content())
    return str(url)


def _scopes(stubs: Stubs) -> list[str]:
    checked = stubs.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[ADDRESS])
    )
    return sorted(e.scope for e in checked.statuses[0].entries)


def _boxes(page: str) -> dict[str, bool]:
    found = re.findall(r'name=keep value="([^"]+)"( checked)?', page)
    return {list_id: bool(checked) for list_id, checked in found}


async def test_leaving_one_list_stops_only_that_lists_mail_until_a_confirmed_signup(
    agent: AgentProcess,
) -> None:
    stubs = agent.stubs()
    form = stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("news-p")))
    _campaign(stubs, "both", ["news", "sale"], tags=("lang:de",))
    url = _preferences_url(stubs)
    async with aiohttp.ClientSession() as browser:
        for _ in range(2):  # opening the page, as a link scanner would, changes nothing
            # the campaign's language, whatever the browser asks for
            page = await get(browser, url, **{"Accept-Language": "fr"})
            assert page.status == 200 and "Ihre Abonnements" in page.text
            assert "Neuigkeiten" in page.text and "Angebote" in page.text  # the form's names
            assert _boxes(page.text) == {"news": True, "sale": True}
        assert _scopes(stubs) == []

        leave_all = re.search(r'<form method=post action="([^"]+)">', page.text)
        assert leave_all is not None
        unsubscribe_page = await get(browser, leave_all.group(1))
        assert "<html lang=de>" in unsubscribe_page.text and "Abmelden" in unsubscribe_page.text

        saved = await post(browser, url, [("keep", "news")])
        assert saved.status == 200 and "Ihre Auswahl ist gespeichert." in saved.text
        assert _scopes(stubs) == ["list:sale"]
        assert _boxes((await get(browser, url)).text) == {"news": True, "sale": False}
        await post(browser, url, [("keep", "news")])  # saving again changes nothing more
        unsubscribed = [
            e
            for e in stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
            if e.type == events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED
        ]
        assert [(e.attrs["scope"], e.attrs["source"]) for e in unsubscribed] == [
            ("list:sale", "preferences")
        ]

        sale = _campaign(stubs, "sale", ["sale"])
        news = _campaign(stubs, "news", ["news"])
        assert (sale.suppressed, sale.delivered) == (1, 0)
        assert (news.suppressed, news.delivered) == (0, 1)

        signup_page = await get(browser, form.url)
        data = [(k, v) for k, v in filled(signup_page.token, ADDRESS) if k != "list"]
        await post(browser, form.url, [*data, ("list", "sale")])
        link = confirmation_link(stubs, ADDRESS)
        assert _scopes(stubs) == ["list:sale"], "lifted only once confirmed"
        await post(browser, link)
        assert _scopes(stubs) == []
        assert (await get(browser, "/".join([*url.split("/")[:-1], "00ff"]))).status == 404


def _field_values(page: str) -> dict[str, str]:
    """The text, number and date inputs of a page by name, and each checkbox field ("1"
    when ticked)."""
    values = dict(
        re.findall(r'<input type=(?:text|number|date) id=f-\w+ name=(\w+) value="([^"]*)"', page)
    )
    for name, checked in re.findall(
        r"<input type=checkbox id=f-\w+ name=(\w+) value=1( checked)?", page
    ):
        values[name] = "1" if checked else ""
    return values


def _field_changes(stubs: Stubs) -> list[dict[str, str]]:
    return [
        dict(c.fields)
        for c in changes(stubs)
        if c.kind == signups_pb2.SIGNUP_CHANGE_KIND_FIELDS_UPDATED
    ]


async def test_a_recipient_edits_their_fields_and_bad_input_stores_nothing(
    agent: AgentProcess,
) -> None:
    stubs = agent.stubs()
    stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("news-f")))
    _campaign(stubs, "fields", ["news", "sale"])
    url = _preferences_url(stubs)
    async with aiohttp.ClientSession() as browser:
        page = await get(browser, url, **{"Accept-Language": "fr"})
        assert page.status == 200 and "Vos informations" in page.text
        assert "Vorname" in page.text and "Geburtstag" in page.text  # the form's own labels
        # the message's recipient data until the recipient says otherwise
        assert _field_values(page.text) == {
            "first_name": "Ann", "age": "", "birthday": "", "vip": "",
        }  # fmt: skip
        assert '<option value=""></option><option>Schuhe</option>' in page.text

        bad = [("first_name", ""), ("age", "zwölf"), ("birthday", "1991-13-45"),
               ("topic", "Hüte"), ("keep", "news")]  # fmt: skip
        refused = await post(browser, url, bad, **{"Accept-Language": "fr"})
        assert refused.status == 400
        assert refused.problems == [
            "Ce champ est obligatoire.",
            "Saisissez un nombre.",
            "Saisissez une date (AAAA-MM-JJ).",
            "Choisissez l'une des options.",
        ]
        assert "zwölf" in refused.text  # the page keeps what was typed
        assert _boxes(refused.text) == {"news": True, "sale": False}
        assert _field_changes(stubs) == [] and _scopes(stubs) == []  # nothing stored

        good = [("first_name", " Annie "), ("age", "34"), ("birthday", ""),
                ("vip", ""), ("vip", "1"), ("topic", "Taschen"), ("keep", "news"),
                ("keep", "sale")]  # fmt: skip
        saved = await post(browser, url, good)
        assert saved.status == 200 and "Your choices are saved." in saved.text
        expected = {"first_name": "Annie", "age": "34", "vip": "1", "topic": "Taschen"}
        assert _field_changes(stubs) == [expected]  # only what changed
        assert _scopes(stubs) == []
        shown = _field_values((await get(browser, url)).text)
        assert shown == {"first_name": "Annie", "age": "34", "birthday": "", "vip": "1"}

        await post(browser, url, good)  # the same again changes nothing
        assert _field_changes(stubs) == [expected]
        await post(browser, url, [("vip", ""), ("keep", "news"), ("keep", "sale")])
        assert _field_changes(stubs) == [expected, {"vip": ""}]  # unticked; the rest kept
        assert (await get(browser, url)).text.count("Annie") == 1


async def test_the_workspace_look_brands_every_page_and_a_forms_own_wins(
    agent: AgentProcess,
) -> None:
    stubs = agent.stubs()
    look = signups_pb2.SetBrandingRequest(
        branding=signups_pb2.Branding(
            logo_url="https://brand.example/logo.svg",
            accent_color="#117755",
            background_color="#fff8e7",
        ),
        language="fr",
    )
    for bad in (
        signups_pb2.SetBrandingRequest(language="it"),
        signups_pb2.SetBrandingRequest(branding=signups_pb2.Branding(accent_color="green")),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            stubs.signups.SetBranding(bad)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    stubs.signups.SetBranding(look)
    form = stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("news-b")))
    _campaign(stubs, "branded", ["news"])  # no language of its own
    url = _preferences_url(stubs)
    async with aiohttp.ClientSession() as browser:
        page = await get(browser, url)  # no Accept-Language: the workspace's language
        assert "<html lang=fr>" in page.text and "Vos abonnements" in page.text
        assert "https://brand.example/logo.svg" in page.text and "#117755" in page.text
        leave_all = re.search(r'<form method=post action="([^"]+)">', page.text)
        assert leave_all is not None
        unsubscribe = await get(browser, leave_all.group(1))
        assert "<html lang=fr>" in unsubscribe.text and "#117755" in unsubscribe.text
        assert "https://brand.example/logo.svg" in unsubscribe.text
        german = await get(browser, leave_all.group(1), **{"Accept-Language": "de"})
        assert "<html lang=de>" in german.text and "#fff8e7" in german.text

        signup = await get(browser, form.url)  # the form's accent and logo, the workspace's rest
        assert "#aa3300" in signup.text and "#117755" not in signup.text
        assert "https://shop.example/logo.png" in signup.text and "#fff8e7" in signup.text
