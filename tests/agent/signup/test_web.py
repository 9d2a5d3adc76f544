"""The hosted signup form, double opt-in and consent records through a real agent: its HTTP
server filled in by a real HTTP client, the confirmation mail read from its capture mailbox,
what happened pulled over gRPC as the desktop pulls it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from mailfleet.v1 import signups_pb2, suppression_pb2
from tests.agent.builders import relay_config
from tests.agent.signup.helpers import (
    changes,
    confirmation_link,
    filled,
    form_definition,
    get,
    post,
)
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import SmtpSink

# Fast posts are allowed here (the time token's own checks are in test_tokens.py); the
# per-address budget is large so that the tests' many posts from 127.0.0.1 pass.
_CONFIG = "[signup]\nmin_fill_seconds = 0\nposts_per_minute = 100000\n"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    proc = AgentProcess(tmp_path_factory.mktemp("signup") / "agent", extra_config=_CONFIG)
    proc.start()
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture(scope="module")
def stubs(agent: AgentProcess) -> Stubs:
    return agent.stubs()


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _push(stubs: Stubs, form_id: str, **overrides: object) -> signups_pb2.FormInfo:
    return stubs.signups.PutForm(
        signups_pb2.PutFormRequest(form=form_definition(form_id, **overrides))
    )


def _last_seq(stubs: Stubs) -> int:
    found = changes(stubs)
    return found[-1].seq if found else 0


async def test_a_signup_is_confirmed_only_by_a_post_of_its_link(
    agent: AgentProcess, stubs: Stubs, browser: aiohttp.ClientSession
) -> None:
    info = _push(stubs, "news-de-1")
    assert info.url == f"{agent.http_url}/f/news-de-1"
    before = _last_seq(stubs)
    page = await get(browser, info.url, **{"User-Agent": "Firefox/140"})
    assert page.status == 200
    assert "<html lang=de>" in page.text and "E-Mail-Adresse" in page.text
    assert "#aa3300" in page.text and "https://shop.example/logo.png" in page.text

    done = await post(browser, info.url, filled(page.token, "anna@shop.example"))
    assert done.status == 200, done.text
    assert "Bitte sehen Sie in Ihr Postfach" in done.text
    (signed_up,) = changes(stubs, before)
    assert signed_up.kind == signups_pb2.SIGNUP_CHANGE_KIND_SIGNED_UP
    assert signed_up.signup.status == signups_pb2.SIGNUP_STATUS_PENDING
    assert dict(signed_up.signup.fields) == {
        "first_name": "Anna",
        "age": "33",
        "birthday": "1991-04-01",
        "vip": "",
        "topic": "Schuhe",
    }
    assert list(signed_up.signup.lists) == ["news"]
    consent = signed_up.signup.consent
    assert (consent.form_id, consent.consent_text, consent.consent_version) == (
        "news-de-1",
        "Ich möchte den Newsletter erhalten.",
        "v3",
    )
    assert consent.ip == "127.0.0.1" and consent.user_agent.startswith("Python")
    assert not consent.HasField("confirmed_at")

    link = confirmation_link(stubs, "anna@shop.example")
    assert link.startswith(f"{info.url}/confirm/")
    for _ in range(3):  # a link scanner opening it, again and again
        shown = await get(browser, link)
        assert shown.status == 200 and "anna@shop.example" in shown.text
    assert changes(stubs, signed_up.seq) == []

    confirmed_page = await post(browser, link)
    assert confirmed_page.status == 200
    assert "Ihre Anmeldung ist bestätigt" in confirmed_page.text
    (confirmed,) = changes(stubs, signed_up.seq)
    assert confirmed.kind == signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED
    assert confirmed.signup.status == signups_pb2.SIGNUP_STATUS_CONFIRMED
    assert confirmed.signup.consent.HasField("confirmed_at")
    assert confirmed.signup.consent.confirm_ip == "127.0.0.1"

    replayed = await post(browser, link)  # a replay changes nothing
    assert replayed.status == 200
    assert changes(stubs, confirmed.seq) == []


async def test_bad_input_is_shown_translated_and_nothing_is_stored(
    stubs: Stubs, browser: aiohttp.ClientSession
) -> None:
    info = _push(stubs, "news-de-2")
    before = _last_seq(stubs)
    page = await get(browser, info.url)
    bad = [
        ("email", "not-an-address"),
        ("first_name", ""),
        ("age", "dreißig"),
        ("birthday", "01.04.1991"),
        ("topic", "Hüte"),
        ("t", page.token),
    ]
    refused = await post(browser, info.url, bad)
    assert refused.status == 400
    assert refused.problems == [
        "Geben Sie eine gültige E-Mail-Adresse ein.",
        "Dieses Feld ist erforderlich.",
        "Geben Sie eine Zahl ein.",
        "Geben Sie ein Datum ein (JJJJ-MM-TT).",
        "Wählen Sie eine der Möglichkeiten.",
        "Wählen Sie mindestens eine Liste.",
        "Setzen Sie das Häkchen, um zuzustimmen.",
    ]
    assert "Bitte korrigieren Sie die markierten Felder." in refused.text
    assert 'value="dreißig"' in refused.text  # what was typed is kept for correcting
    assert changes(stubs, before) == []


async def test_accept_language_chooses_when_the_form_has_no_language(
    stubs: Stubs, browser: aiohttp.ClientSession
) -> None:
    info = _push(stubs, "news-any", language="")
    for header, word in [
        ("fr-CH, fr;q=0.9, en;q=0.8", "Adresse e-mail"),
        ("es", "Correo electrónico"),
        ("da, de;q=0.5", "E-Mail-Adresse"),
        ("ja", "Email address"),
    ]:
        page = await get(browser, info.url, **{"Accept-Language": header})
        assert word in page.text, header


async def test_forged_and_foreign_tokens_change_nothing(
    agent: AgentProcess, stubs: Stubs, browser: aiohttp.ClientSession
) -> None:
    info = _push(stubs, "news-de-3")
    other = _push(stubs, "news-de-4")
    before = _last_seq(stubs)
    page = await get(browser, info.url)
    without = await post(browser, info.url, filled("", "bot@shop.example"))
    forged = await post(browser, info.url, filled("00" * 16, "bot@shop.example"))
    other_page = await get(browser, other.url)
    foreign = await post(browser, info.url, filled(other_page.token, "bot@shop.example"))
    for refused in (without, forged, foreign):
        assert refused.status == 400
        assert "Bitte versuchen Sie es erneut" in refused.text
    assert changes(stubs, before) == []

    await post(browser, info.url, filled(page.token, "bert@shop.example"))
    link = confirmation_link(stubs, "bert@shop.example")
    token = link.rsplit("/", 1)[1]
    altered = token[:-1] + ("0" if token[-1] != "0" else "1")
    seq = _last_seq(stubs)
    for bad in (f"{info.url}/confirm/{altered}", f"{other.url}/confirm/{token}"):
        assert (await get(browser, bad)).status == 404
        assert (await post(browser, bad)).status == 404
    assert changes(stubs, seq) == []


async def test_a_thousand_bot_posts_store_nothing(
    tmp_path: Path, browser: aiohttp.ClientSession
) -> None:
    agent = AgentProcess(tmp_path / "agent")  # the default budgets
    agent.start()
    try:
        stubs = agent.stubs()
        info = _push(stubs, "news-bots")
        page = await get(browser, info.url)
        statuses: dict[int, int] = {}
        for i in range(1000):
            data = filled("", f"bot{i}@spam.example", website="http://spam.example")
            if i % 2:
                data = [(k, v) for k, v in data if k != "website"]  # no honeypot, no token
            reply = await post(browser, info.url, data)
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
        assert changes(stubs) == []
        assert statuses.get(429, 0) >= 900, statuses  # 10 posts a minute per address
        assert set(statuses) <= {200, 400, 429}, statuses
        # A person's own post is refused too while the address's budget is spent.
        assert (await post(browser, info.url, filled(page.token, "p@shop.example"))).status == 429
    finally:
        agent.close()


async def test_an_unsubscribed_address_must_confirm_again_even_on_a_single_opt_in_form(
    stubs: Stubs, browser: aiohttp.ClientSession
) -> None:
    info = _push(stubs, "news-single", single_opt_in=True)
    before = _last_seq(stubs)
    page = await get(browser, info.url)
    done = await post(browser, info.url, filled(page.token, "carl@shop.example"))
    assert "Sie sind angemeldet" in done.text
    (subscribed,) = changes(stubs, before)
    assert subscribed.kind == signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED
    assert subscribed.signup.consent.HasField("confirmed_at")

    address = "dora@shop.example"
    stubs.suppression.AddSuppressions(
        suppression_pb2.AddSuppressionsRequest(
            entries=[
                suppression_pb2.SuppressionEntry(
                    email=address, reason=suppression_pb2.SUPPRESSION_REASON_UNSUBSCRIBE
                )
            ]
        )
    )

    def suppressed() -> bool:
        checked = stubs.suppression.CheckSuppressions(
            suppression_pb2.CheckSuppressionsRequest(emails=[address])
        )
        return checked.statuses[0].suppressed

    seq = _last_seq(stubs)
    done = await post(browser, info.url, filled(page.token, address))
    assert "Bitte sehen Sie in Ihr Postfach" in done.text
    (pending,) = changes(stubs, seq)
    assert pending.signup.status == signups_pb2.SIGNUP_STATUS_PENDING
    assert suppressed(), "the unsubscribe stays until the address confirms"
    link = confirmation_link(stubs, address)
    await get(browser, link)
    assert suppressed()
    await post(browser, link)
    assert not suppressed()
    assert changes(stubs, pending.seq)[0].kind == signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED


def test_forms_are_listed_and_their_snippet_embeds_the_hosted_page(stubs: Stubs) -> None:
    _push(stubs, "news-list")
    listed = stubs.signups.ListForms(signups_pb2.ListFormsRequest()).forms
    ids = [f.form.form_id for f in listed]
    assert "news-list" in ids and ids == sorted(ids)
    again = next(f for f in listed if f.form.form_id == "news-list")
    assert again.form == form_definition("news-list")
    snippet = stubs.signups.GetFormSnippet(signups_pb2.GetFormSnippetRequest(form_id="news-list"))
    assert snippet.url.endswith("/f/news-list")
    assert f'<iframe src="{snippet.url}"' in snippet.html


def test_a_bad_definition_is_refused_naming_its_field(stubs: Stubs) -> None:
    bad_id = form_definition("a b")
    bad_language = form_definition("news-bad", language="it")
    bad_colour = form_definition("news-bad")
    bad_colour.branding.accent_color = "red"
    no_link = form_definition("news-bad")
    no_link.confirmation.text = "Hello {{ first_name }}"
    cases = [
        (bad_id, "form.form_id"),
        (bad_language, "form.language"),
        (bad_colour, "form.branding.accent_color"),
        (no_link, "form.confirmation"),
    ]
    for form, field in cases:
        with pytest.raises(grpc.RpcError) as caught:
            stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (caught.value.details() or "").startswith(field), caught.value.details()


async def test_a_deleted_form_stops_answering_and_what_it_collected_stays(
    stubs: Stubs, browser: aiohttp.ClientSession
) -> None:
    form = _push(stubs, "going-away")
    page = await get(browser, form.url)
    await post(browser, form.url, filled(page.token, "kept@example.org"))
    link = confirmation_link(stubs, "kept@example.org")
    before = [c.seq for c in changes(stubs) if c.signup.email == "kept@example.org"]
    assert len(before) == 1

    deleted = stubs.signups.DeleteForm(signups_pb2.DeleteFormRequest(form_id="going-away"))
    assert deleted.deleted
    for url in (form.url, link, f"{form.url}/archive"):
        assert (await get(browser, url, **{"Accept-Language": "de"})).status == 404
    assert (await post(browser, form.url, filled(page.token, "new@example.org"))).status == 404
    assert (await post(browser, link)).status == 404  # its pending signup cannot confirm
    listed = stubs.signups.ListForms(signups_pb2.ListFormsRequest()).forms
    assert "going-away" not in [f.form.form_id for f in listed]
    with pytest.raises(grpc.RpcError) as refused:
        stubs.signups.GetFormSnippet(signups_pb2.GetFormSnippetRequest(form_id="going-away"))
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    # the signup and its consent record stay, as the changes log the desktop follows
    after = [c for c in changes(stubs) if c.signup.email == "kept@example.org"]
    assert [c.seq for c in after] == before
    assert after[0].signup.consent.consent_text == "Ich möchte den Newsletter erhalten."
    again = stubs.signups.DeleteForm(signups_pb2.DeleteFormRequest(form_id="going-away"))
    assert not again.deleted  # already down: nothing changes

    _push(stubs, "going-away")  # pushed again, it is back up
    assert (await get(browser, form.url)).status == 200


async def test_an_expired_confirmation_link_confirms_nobody(
    tmp_path: Path, browser: aiohttp.ClientSession
) -> None:
    # links that work for under four seconds: expired by the time the test has read the mail
    proc = AgentProcess(tmp_path / "agent", extra_config=_CONFIG + "confirm_hours = 0.001\n")
    proc.start()
    try:
        stubs = proc.stubs()
        info = _push(stubs, "news-short")
        page = await get(browser, info.url)
        await post(browser, info.url, filled(page.token, "late@example.org"))
        link = confirmation_link(stubs, "late@example.org")

        async def expired() -> bool:
            return (await get(browser, link)).status == 410

        deadline = asyncio.get_running_loop().time() + 60
        while not await expired():
            assert asyncio.get_running_loop().time() < deadline, "the link never expired"
            await asyncio.sleep(0.5)
        refused = await post(browser, link)
        assert refused.status == 410
        assert "/f/news-short" in refused.text  # a way to sign up again
        kinds = [c.kind for c in changes(stubs) if c.signup.email == "late@example.org"]
        assert signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED not in kinds
        assert kinds[0] == signups_pb2.SIGNUP_CHANGE_KIND_SIGNED_UP
    finally:
        proc.close()


async def test_the_confirmation_mail_goes_out_by_smtp_to_a_real_sink(
    tmp_path: Path, browser: aiohttp.ClientSession
) -> None:
    with SmtpSink() as sink:
        proc = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink) + _CONFIG)
        proc.start()
        try:
            stubs = proc.stubs()
            info = _push(stubs, "news-smtp")
            page = await get(browser, info.url)
            await post(browser, info.url, filled(page.token, "relay@example.org"))
            (mail,) = sink.wait_for(1)
            assert mail.rcpt_to == ("relay@example.org",)
            message = email.message_from_bytes(mail.data, policy=email.policy.default)
            assert message["Subject"] == "Bitte bestätigen, Anna"
            assert isinstance(message, email.message.EmailMessage)
            body = message.get_body(("plain",))
            assert body is not None
            (link,) = re.findall(r"https?://\S+/confirm/[0-9a-f]+", body.get_content())
            assert (await get(browser, link)).status == 200  # opening it confirms nothing
            kinds = [c.kind for c in changes(stubs)]
            assert kinds == [signups_pb2.SIGNUP_CHANGE_KIND_SIGNED_UP]
            assert (await post(browser, link)).status == 200
            kinds = [c.kind for c in changes(stubs)]
            assert kinds[-1] == signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED
        finally:
            proc.close()
