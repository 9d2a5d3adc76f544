"""What a person does with a received campaign mail: read its subject, click its first link
(a real HTTP request to the agent's tracking endpoint, with a browser's or a scanner's
User-Agent)."""

from __future__ import annotations

import email
import email.message
import email.policy
import html
import http.client
import re
from urllib.parse import urlsplit

from tests.peers.agent import AgentProcess
from tests.peers.smtp import Received

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel link scanner)"


def subject(r: Received) -> str:
    """The mail's Subject."""
    return str(email.message_from_bytes(r.data, policy=email.policy.default)["Subject"])


def first_link_path(r: Received) -> str:
    """The path and query of the first link of the mail's HTML part."""
    msg = email.message_from_bytes(r.data, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    part = msg.get_body(("html",))
    assert part is not None
    href = re.findall(r'href="([^"]+)"', part.get_content())[0]
    url = urlsplit(html.unescape(href))
    return url.path + (f"?{url.query}" if url.query else "")


def click(agent: AgentProcess, r: Received, user_agent: str = BROWSER) -> None:
    """Follow the mail's first link on the agent's HTTP port; the agent redirects."""
    conn = http.client.HTTPConnection("127.0.0.1", agent.http_port, timeout=10)
    try:
        conn.request("GET", first_link_path(r), headers={"User-Agent": user_agent})
        assert conn.getresponse().status in (302, 303)
    finally:
        conn.close()
