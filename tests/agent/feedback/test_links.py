"""What the feedback loop adds to a rendered message: headers, unsubscribe URL, tracking."""

from __future__ import annotations

import email
import email.policy
import html
import os
import re
from urllib.parse import parse_qs, urlsplit

from mailfleet.agent.feedback.links import FeedbackLinks
from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey
from mailfleet.agent.model import Content, Sender
from mailfleet.agent.render.message import Renderer

SUBJECT = Subject(1, 7, 99)
KEY = TokenKey(os.urandom(32))
LINKS = FeedbackLinks(KEY, "https://mail.shop.example", "bounce.shop.example")


def _render(
    content: Content, *, opens: bool = True, clicks: bool = True, bulk: bool = True
) -> email.message.EmailMessage:
    feedback = LINKS.for_message(SUBJECT, bulk=bulk, opens=opens, clicks=clicks)
    raw = Renderer("mta.shop.example", 2.0, 1_000_000).render(
        message_id=99,
        sender=Sender("news@shop.example", "Shop"),
        content=content,
        to_email="ann@example.com",
        to_name="Ann",
        fields={"unsubscribe_url": "https://attacker.example/"},
        agent_headers=feedback.headers,
        agent_variables={"unsubscribe_url": feedback.unsubscribe_url},
        html_filter=feedback.tracker,
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_campaign_messages_carry_one_click_unsubscribe_and_cfbl_headers() -> None:
    msg = _render(
        Content(
            "Hi", text="Leave: {{ unsubscribe_url }}", headers={"List-Unsubscribe": "<mailto:x@y>"}
        )
    )
    (value,) = msg.get_all("List-Unsubscribe") or []  # the template's own is replaced
    https, mailto = re.findall(r"<([^>]+)>", str(value))
    token = https.rpartition("/u/")[2]
    assert https.startswith("https://mail.shop.example/u/")
    assert KEY.read(Purpose.UNSUBSCRIBE, token) == SUBJECT
    assert mailto == f"mailto:u-{token}@bounce.shop.example?subject=unsubscribe"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["CFBL-Address"] == "fbl@bounce.shop.example; report=arf"
    assert KEY.read(Purpose.FEEDBACK_ID, str(msg["CFBL-Feedback-ID"])) == SUBJECT
    # {{ unsubscribe_url }} is the agent's, whatever a merge field of that name says.
    body = msg.get_body(("plain",))
    assert body is not None and body.get_content().strip() == f"Leave: {https}"


def test_transactional_messages_get_no_unsubscribe_headers() -> None:
    msg = _render(Content("Receipt", text="Thanks"), bulk=False)
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert msg["CFBL-Feedback-ID"] is not None


def test_the_return_path_is_a_verp_address_with_a_bounce_token() -> None:
    path = LINKS.for_message(SUBJECT, bulk=True, opens=False, clicks=False).return_path
    assert path is not None
    local, _, domain = path.partition("@")
    assert domain == "bounce.shop.example" and local.startswith("b-")
    assert KEY.read(Purpose.BOUNCE, local[2:]) == SUBJECT
    no_domain = FeedbackLinks(KEY, "https://x", "")
    assert no_domain.for_message(SUBJECT, bulk=True, opens=False, clicks=False).return_path is None


def test_links_are_rewritten_through_signed_click_urls_and_a_pixel_is_added() -> None:
    source = (
        '<html><body><p><a href="https://shop.example/sale?a=1&amp;b=2">Sale</a>'
        " <a href='mailto:help@shop.example'>Help</a>"
        ' <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    )
    msg = _render(Content("Hi", html=source))
    part = msg.get_body(("html",))
    assert part is not None
    body = part.get_content()
    hrefs = [html.unescape(h) for h in re.findall(r"""href=["']([^"']+)["']""", body)]
    click, mailto, unsubscribe = hrefs
    url = urlsplit(click)
    token = url.path.rpartition("/c/")[2]
    target = parse_qs(url.query)["u"][0]
    assert target == "https://shop.example/sale?a=1&b=2"
    assert KEY.read(Purpose.CLICK, token, target.encode()) == SUBJECT
    assert mailto == "mailto:help@shop.example"
    # The unsubscribe link is never routed through tracking.
    assert (
        unsubscribe
        == LINKS.for_message(SUBJECT, bulk=True, opens=False, clicks=False).unsubscribe_url
    )
    (pixel,) = re.findall(r'<img src="([^"]+)"', body)
    assert KEY.read(Purpose.OPEN, pixel.rpartition("/o/")[2]) == SUBJECT
    assert body.index("<img") < body.index("</body>")
    # The text part, derived from the HTML, shows the real link.
    text = msg.get_body(("plain",))
    assert text is not None and "https://shop.example/sale" in text.get_content()
    assert "/c/" not in text.get_content()


def test_tracking_switched_off_leaves_the_html_alone() -> None:
    source = '<p><a href="https://shop.example/">Shop</a></p>'
    msg = _render(Content("Hi", html=source), opens=False, clicks=False)
    part = msg.get_body(("html",))
    assert part is not None and part.get_content().strip() == source


def test_the_pixel_goes_before_the_last_closing_body_tag_wherever_it_is() -> None:
    text = "<p>" + "x" * 3000 + "</p>"
    cases = {
        f"<html><body>{text}</BODY></html>": f"<html><body>{text}",  # near the end, any case
        f"<body>{text}</body>" + " " * 2000: f"<body>{text}",  # far from the end
        f"<body>a</body><body>{text}</Body>": f"<body>a</body><body>{text}",  # the last one
        "<p>short</p>": "<p>short</p>",  # no tag: at the end
    }
    track = LINKS.for_message(SUBJECT, bulk=True, opens=True, clicks=False).tracker
    assert track is not None
    for document, before in cases.items():
        assert track(document).startswith(before + '<img src="'), document[-40:]
