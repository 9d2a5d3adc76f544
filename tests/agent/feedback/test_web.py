"""One-click unsubscribe, open and click tracking through a real agent's HTTP server, on
messages the agent really rendered (its capture mailbox)."""

from __future__ import annotations

import email
import email.policy
import html
import http.client
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from mailfleet.v1 import campaigns_pb2, capture_pb2, common_pb2, events_pb2, suppression_pb2
from tests.agent.builders import batches, campaign_request, wait_until
from tests.peers.agent import AgentProcess, Stubs

HTML = (
    '<html><body><p>Hi {{ first_name }}, see <a href="https://shop.example/sale?x=1&amp;y=2">'
    'the sale</a> or <a href="{{ unsubscribe_url }}">unsubscribe</a>.</p></body></html>'
)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def request(
    agent_process: AgentProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", agent_process.http_port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return Reply(reply.status, reply.headers, reply.read())
    finally:
        conn.close()


@dataclass
class Sent:
    """One captured campaign message and its feedback URLs (paths on the agent)."""

    email: str
    message_id: int
    unsubscribe: str
    list_unsubscribe: str
    click: str
    pixel: str
    html: str


def _captured_ids(stubs: Stubs) -> set[int]:
    listed = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=1000)).messages
    return {m.id for m in listed}


def run_campaign(stubs: Stubs, emails: list[str], key: str, **fields: object) -> list[Sent]:
    """Send a campaign to the capture mailbox; its messages with their feedback URLs."""
    c = stubs.campaigns.CreateCampaign(
        campaign_request(key, content=common_pb2.Content(subject="Hi", html=HTML), **fields)
    )
    rows = [common_pb2.Recipient(email=e, values=["Ann", "Paris"]) for e in emails]
    stubs.campaigns.UploadRecipients(batches(c.id, rows))
    earlier = _captured_ids(stubs)
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    wait_until(
        lambda: stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED,
        30,
        "the campaign to complete",
    )
    sent = []
    for captured_id in sorted(_captured_ids(stubs) - earlier):
        item = stubs.capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=captured_id))
        msg = email.message_from_bytes(item.data, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        part = msg.get_body(("html",))
        assert part is not None
        body = part.get_content()
        hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body)]
        pixels = re.findall(r'<img src="([^"]+)"', body)
        (https,) = re.findall(r"<(https?://[^>]+)>", str(msg["List-Unsubscribe"]))
        sent.append(
            Sent(
                email=item.rcpt_to,
                message_id=item.message_id,
                unsubscribe=_path(hrefs[1]),
                list_unsubscribe=_path(https),
                click=_path(hrefs[0]),
                pixel=_path(pixels[0]) if pixels else "",
                html=body,
            )
        )
    return sent


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _events(stubs: Stubs, type_: int) -> list[events_pb2.Event]:
    found = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=10_000)).events
    return [e for e in found if e.type == type_]


def _suppressed(stubs: Stubs, address: str) -> bool:
    checked = stubs.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[address])
    )
    return checked.statuses[0].suppressed


def test_one_click_post_unsubscribes_and_the_next_campaign_skips_the_address(
    agent_process: AgentProcess,
) -> None:
    stubs = agent_process.stubs()
    (ann,) = run_campaign(stubs, ["ann@example.com"], "c1")
    # The visible link and the List-Unsubscribe header name the same URL.
    assert ann.unsubscribe == ann.list_unsubscribe
    reply = request(
        agent_process,
        "POST",
        ann.unsubscribe,
        b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200
    assert reply.headers.get("Location") is None and reply.headers.get("Set-Cookie") is None
    assert _suppressed(stubs, "ann@example.com")
    (event,) = _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED)
    assert (event.email, event.message_id, event.attrs["source"]) == (
        "ann@example.com",
        ann.message_id,
        "one-click",
    )
    # Pressing again changes nothing more.
    assert (
        request(agent_process, "POST", ann.unsubscribe, b"List-Unsubscribe=One-Click").status == 200
    )
    assert len(_events(stubs, events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED)) == 1
    c2 = stubs.campaigns.CreateCampaign(campaign_request("c2"))
    stubs.campaigns.UploadRecipients(
        batches(c2.id, [common_pb2.Recipient(email="ann@example.com", values=["Ann", "Paris"])])
    )
    counts = stubs.campaigns.GetCampaign(campaigns_pb2.CampaignRef(campaign_id=c2.id)).counts
    assert (counts.suppressed, counts.queued) == (1, 0)


def test_get_shows_a_confirmation_page_and_changes_nothing(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    (ann,) = run_campaign(stubs, ["ann@example.com"], "c1")
    for _ in range(3):  # a link scanner following the URL
        reply = request(agent_process, "GET", ann.unsubscribe)
        assert reply.status == 200
        page = reply.body.decode()
        assert "ann@example.com" in page and "<form method=post>" in page
        assert reply.headers.get("Set-Cookie") is None
    assert not _suppressed(stubs, "ann@example.com")
    assert _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED) == []
    # The page's button posts its form to the same URL: that unsubscribes.
    reply = request(
        agent_process,
        "POST",
        ann.unsubscribe,
        b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200 and _suppressed(stubs, "ann@example.com")


def test_forged_and_altered_unsubscribe_tokens_change_nothing(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    (ann,) = run_campaign(stubs, ["ann@example.com"], "c1")
    token = ann.unsubscribe.rpartition("/")[2]
    forged = [
        "/u/" + token[:-1] + ("a" if token[-1] != "a" else "b"),
        "/u/" + token[:5] + "x" + token[6:],
        "/u/aaaaaaaaaaaaaaaaaaaaaaaa",
        "/u/" + token + "a",
        "/u/" + quote("<script>"),
    ]
    for path in forged:
        assert request(agent_process, "POST", path, b"List-Unsubscribe=One-Click").status == 404
        assert request(agent_process, "GET", path).status == 404
    assert not _suppressed(stubs, "ann@example.com")
    assert _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED) == []


def test_a_burst_of_forged_posts_is_rate_limited_and_changes_nothing(tmp_path: Path) -> None:
    # 60 a minute: a burst of 60, then one a second. (With the default 600, ten a second
    # refill, which a loaded test machine's slower requests can keep up with.)
    agent = AgentProcess(tmp_path / "agent", http_config="rate_limit_per_minute = 60")
    agent.start()
    try:
        stubs = agent.stubs()
        (ann,) = run_campaign(stubs, ["ann@example.com"], "c1")
        token = ann.unsubscribe.rpartition("/")[2]
        statuses: dict[int, int] = {}
        conn = http.client.HTTPConnection("127.0.0.1", agent.http_port, timeout=10)
        try:
            # The genuine token may itself end in four digits: it is never one of the forgeries.
            forgeries = [f"{token[:-4]}{i:04d}" for i in range(1001)]
            for forged in [f for f in forgeries if f != token][:1000]:
                conn.request("POST", f"/u/{forged}", body=b"List-Unsubscribe=One-Click")
                reply = conn.getresponse()
                reply.read()
                statuses[reply.status] = statuses.get(reply.status, 0) + 1
            # Even the genuine link is refused until the client's budget refills.
            conn.request("POST", ann.unsubscribe, body=b"List-Unsubscribe=One-Click")
            genuine = conn.getresponse()
            genuine.read()
        finally:
            conn.close()
        assert set(statuses) == {404, 429}
        assert statuses[429] >= 500
        assert genuine.status == 429
        assert not _suppressed(stubs, "ann@example.com")
        assert _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED) == []
    finally:
        agent.close()


def test_opens_and_clicks_are_events_with_the_user_agent_and_a_bot_flag(
    agent_process: AgentProcess,
) -> None:
    stubs = agent_process.stubs()
    (ann,) = run_campaign(stubs, ["ann@example.com"], "c1")
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    reply = request(agent_process, "GET", ann.pixel, headers={"User-Agent": firefox})
    assert reply.status == 200 and reply.body.startswith(b"GIF89a")
    assert (
        request(
            agent_process, "GET", ann.pixel, headers={"User-Agent": "Barracuda Sentinel (EE)"}
        ).status
        == 200
    )
    opens = _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_OPENED)
    assert [(e.email, e.message_id, e.attrs["user_agent"], e.attrs["bot"]) for e in opens] == [
        ("ann@example.com", ann.message_id, firefox, "0"),
        ("ann@example.com", ann.message_id, "Barracuda Sentinel (EE)", "1"),
    ]
    reply = request(agent_process, "GET", ann.click, headers={"User-Agent": firefox})
    assert reply.status == 302
    assert reply.headers["Location"] == "https://shop.example/sale?x=1&y=2"
    (click,) = _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_CLICKED)
    assert (click.attrs["url"], click.attrs["bot"]) == ("https://shop.example/sale?x=1&y=2", "0")


def test_a_tampered_click_link_is_404_and_never_redirects(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    (ann,) = run_campaign(stubs, ["ann@example.com"], "c1")
    parts = urlsplit(ann.click)
    token = parts.path.rpartition("/")[2]
    target = parse_qs(parts.query)["u"][0]
    tampered = [
        f"/c/{token}?u={quote('https://evil.example/', safe='')}",
        f"/c/{token}?u={quote(target + '&z=3', safe='')}",
        f"/c/{token[:-1]}{'a' if token[-1] != 'a' else 'b'}?u={quote(target, safe='')}",
        f"/c/{token}",
        f"/o/{token}",  # a click token is not an open token
    ]
    for path in tampered:
        reply = request(agent_process, "GET", path)
        assert reply.status == 404, path
        assert reply.headers.get("Location") is None
    assert _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_CLICKED) == []
    assert _events(stubs, events_pb2.EVENT_TYPE_MESSAGE_OPENED) == []


def test_tracking_is_on_by_default_and_can_be_switched_off(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    c = stubs.campaigns.CreateCampaign(campaign_request("default"))
    assert (c.tracking.opens, c.tracking.clicks) == (True, True)
    off = stubs.campaigns.CreateCampaign(campaign_request("off", tracking=common_pb2.Tracking()))
    assert (off.tracking.opens, off.tracking.clicks) == (False, False)
    (ann,) = run_campaign(stubs, ["ann@example.com"], "untracked", tracking=common_pb2.Tracking())
    assert ann.pixel == "" and "/c/" not in ann.html
    assert "https://shop.example/sale?x=1&amp;y=2" in ann.html


def test_the_unsubscribe_pages_speak_the_browsers_language(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    (ann,) = run_campaign(stubs, ["ann@example.com"], "c1")
    for header, lang, words in [
        ("de-AT, de;q=0.9", "de", "Keine dieser E-Mails mehr an <b>ann@example.com</b> senden?"),
        ("es", "es", "Darse de baja"),
        ("ja, fr;q=0.4", "fr", "Se désinscrire"),
        ("", "en", "Stop sending these emails to <b>ann@example.com</b>?"),
    ]:
        reply = request(agent_process, "GET", ann.unsubscribe, headers={"Accept-Language": header})
        page = reply.body.decode()
        assert f"<html lang={lang}>" in page and words in page, header
    assert not _suppressed(stubs, "ann@example.com")
    done = request(
        agent_process,
        "POST",
        ann.unsubscribe,
        b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "fr"},
    )
    assert done.status == 200 and "Vous ne recevrez plus ces e-mails." in done.body.decode()
    assert _suppressed(stubs, "ann@example.com")
    invalid = request(agent_process, "GET", "/u/00", headers={"Accept-Language": "de"})
    assert invalid.status == 404 and "Dieser Link ist ungültig." in invalid.body.decode()
