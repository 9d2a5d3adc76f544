"""A list's public archive on a real agent: only campaigns tagged ``archive`` for the form's
lists are listed, each shown without anything about any recipient."""

from __future__ import annotations

import re

import aiohttp

from mailfleet.v1 import common_pb2, signups_pb2
from tests.agent.builders import batches, campaign_request, start_and_wait
from tests.agent.signup.helpers import form_definition, get
from tests.peers.agent import AgentProcess, Stubs

HTML = (
    "<p>Hello {{ first_name }} ({{ email }}), this week: shoes.</p>"
    '<p><a href="https://shop.example/shoes">Shoes</a>'
    ' <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def _campaign(stubs: Stubs, key: str, subject: str, tags: list[str]) -> int:
    request = campaign_request(
        key,
        content=common_pb2.Content(subject=subject, html=HTML),
        tracking=common_pb2.Tracking(opens=True, clicks=True),
    )
    del request.tags[:]
    request.tags.extend(tags)
    c = stubs.campaigns.CreateCampaign(request)
    ann = common_pb2.Recipient(email="ann@example.com", values=["Ann", "Paris"])
    stubs.campaigns.UploadRecipients(batches(c.id, [ann]))
    start_and_wait(stubs, c.id)
    return int(c.id)


async def test_the_archive_shows_only_published_issues_without_personal_data(
    agent_process: AgentProcess,
) -> None:
    stubs = agent_process.stubs()
    form = stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("news-form")))
    published = _campaign(stubs, "p", "Shoes for {{ first_name }}", ["list:news", "archive"])
    private = _campaign(stubs, "q", "Members only", ["list:news"])
    elsewhere = _campaign(stubs, "r", "Another list", ["list:toys", "archive"])
    french = _campaign(stubs, "s", "En français", ["list:news", "archive", "lang:fr"])
    async with aiohttp.ClientSession() as browser:
        index = await get(browser, f"{form.url}/archive")
        assert index.status == 200
        assert "Frühere Ausgaben" in index.text  # the form's language
        links = re.findall(r'href="([^"]+/archive/(\d+))"', index.text)
        assert [int(cid) for _, cid in links] == [published]
        assert "Shoes for" in index.text and "Ann" not in index.text

        issue = await get(browser, links[0][0])
        assert issue.status == 200
        assert "this week: shoes" in issue.text
        assert "Ann" not in issue.text and "ann@example.com" not in issue.text
        assert "you@example.com" in issue.text  # {{ email }} is nobody's
        assert 'href="https://shop.example/shoes"' in issue.text  # not rewritten for tracking
        assert "/o/" not in issue.text and "/c/" not in issue.text
        assert f'href="{form.url}"' in issue.text  # its unsubscribe link leads to the form

        # not published, another list's, another language's (the form is German), none such
        for cid in (private, elsewhere, french, 999):
            assert (await get(browser, f"{form.url}/archive/{cid}")).status == 404
        base = form.url.rsplit("/", 1)[0]
        assert (await get(browser, f"{base}/no-such-form/archive")).status == 404
