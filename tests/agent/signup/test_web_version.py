"""The web version of a real agent's campaign message: {{ web_version_url }} shows the message as
that recipient got it, without the open pixel; forged tokens and cleared messages are 404."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import aiohttp

from mailfleet.v1 import campaigns_pb2, capture_pb2, common_pb2
from tests.agent.builders import batches, campaign_request, wait_until
from tests.agent.signup.helpers import get
from tests.peers.agent import AgentProcess, Stubs

HTML = (
    "<html><body><p>Hi {{ first_name }} from {{ city }}</p>"
    '<p><a href="https://shop.example/sale">Sale</a>'
    ' <a href="{{ web_version_url }}">View in your browser</a></p></body></html>'
)
PIXEL = re.compile(r'<img src="[^"]*/o/[0-9a-f]+"[^>]*>')


def _send(stubs: Stubs) -> None:
    request = campaign_request(
        "web-version",
        content=common_pb2.Content(subject="News for {{ first_name }}", html=HTML),
        tracking=common_pb2.Tracking(opens=True),
    )
    c = stubs.campaigns.CreateCampaign(request)
    people = [
        common_pb2.Recipient(email="ann@example.com", values=["Ann", "Paris"]),
        common_pb2.Recipient(email="bob@example.com", values=["Bob", "Lyon"]),
    ]
    stubs.campaigns.UploadRecipients(batches(c.id, people))
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    wait_until(
        lambda: stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED,
        30,
        "the campaign to complete",
    )


def _as_sent(stubs: Stubs, address: str) -> tuple[str, str]:
    """The HTML part of the mail ``address`` got, and its List-Unsubscribe field."""
    listed = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=100)).messages
    (captured,) = [m for m in listed if m.rcpt_to == address]
    item = stubs.capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=captured.id))
    msg = email.message_from_bytes(item.data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content()), str(msg["List-Unsubscribe"])


async def test_the_web_version_is_the_message_as_its_recipient_got_it(
    agent_process: AgentProcess,
) -> None:
    stubs = agent_process.stubs()
    _send(stubs)
    sent = {a: _as_sent(stubs, a) for a in ("ann@example.com", "bob@example.com")}
    assert all(PIXEL.search(html) for html, _ in sent.values())  # the mail was tracked
    async with aiohttp.ClientSession() as browser:
        for html, _ in sent.values():
            (url,) = re.findall(r'href="(https?://[^"]+/v/[0-9a-f]+)"', html)
            page = await get(browser, url)
            assert page.status == 200
            # the same body, merge values and links, less the open pixel
            assert page.text == PIXEL.sub("", html)
        assert "Hi Bob from Lyon" in page.text and 'href="https://shop.example/sale"' in page.text

        base, token = url.rsplit("/", 1)
        (unsubscribe,) = re.findall(r"/u/([0-9a-f]+)>", sent["bob@example.com"][1])
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")
        # an altered token, not a token, and a genuine token made for unsubscribing
        for bad in (forged, "zz", unsubscribe):
            missing = await get(browser, f"{base}/{bad}", **{"Accept-Language": "de"})
            assert missing.status == 404 and "<html lang=de>" in missing.text


async def test_a_message_retention_has_cleared_is_404(tmp_path: Path) -> None:
    agent = AgentProcess(
        tmp_path / "agent",
        extra_config="[retention]\nbodies_days = 0.00002\ninterval_seconds = 0.5\n",
    )
    agent.start()
    try:
        stubs = agent.stubs()
        _send(stubs)
        html, _ = _as_sent(stubs, "ann@example.com")
        (url,) = re.findall(r'href="(https?://[^"]+/v/[0-9a-f]+)"', html)
        async with aiohttp.ClientSession() as browser:
            statuses: list[int] = []

            async def cleared() -> bool:
                statuses.append((await get(browser, url)).status)
                return statuses[-1] == 404

            for _ in range(300):  # a minute at most
                if await cleared():
                    break
                await asyncio.sleep(0.2)
        assert statuses[-1] == 404, statuses
        assert "retention pruned" in agent.log()
    finally:
        agent.close()
