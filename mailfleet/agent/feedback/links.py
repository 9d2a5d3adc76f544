"""What the feedback loop adds to each outgoing message: its VERP return path, the
List-Unsubscribe pair (RFC 2369, RFC 8058), the CFBL headers (RFC 9477), and the tracking
URLs of its open pixel and links."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from mailfleet.agent.feedback.tokens import Purpose, Subject, TokenKey

# How much of the end of an HTML part is searched first for its closing body tag.
_TAIL = 1024
_HREF = re.compile(r"""(<a\s[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'<>]+)\2""", re.IGNORECASE)


def _body_end(html: str) -> int:
    """Where the last ``</body`` tag (any case) starts, or -1.

    It is nearly always within the last few hundred characters; lower-casing only those
    spares a copy of the whole document per message."""
    tail = len(html) - _TAIL
    if tail > 0:
        at = html[tail:].lower().rfind("</body")
        if at >= 0:
            return tail + at
    return html.lower().rfind("</body")


@dataclass(frozen=True)
class MessageFeedback:
    """One message's feedback addresses, header fields and HTML tracker."""

    return_path: str | None  # None without a bounce domain: the sender's address is used
    unsubscribe_url: str  # also ``{{ unsubscribe_url }}`` in templates
    headers: list[tuple[str, str]]
    tracker: Callable[[str], str] | None  # adds the pixel, rewrites links; None: no tracking
    # ``{{ preferences_url }}``: the preference center, authorised by the unsubscribe token
    preferences_url: str = ""
    # ``{{ web_version_url }}``: the message in a browser, as this recipient got it
    web_version_url: str = ""


@dataclass(frozen=True)
class FeedbackLinks:
    """Builds messages' feedback addresses and URLs."""

    key: TokenKey
    base_url: str  # the agent's public HTTP base URL, without a trailing slash
    bounce_domain: str  # "" when the agent receives no mail: no VERP, no mailto unsubscribe

    def for_message(
        self, subject: Subject, *, bulk: bool, opens: bool, clicks: bool
    ) -> MessageFeedback:
        """Everything one message needs. Bulk mail gets List-Unsubscribe and
        List-Unsubscribe-Post; every message gets CFBL-Address and CFBL-Feedback-ID and its
        VERP return path when there is a bounce domain."""
        unsubscribe = self.key.make(Purpose.UNSUBSCRIBE, subject)
        unsubscribe_url = f"{self.base_url}/u/{unsubscribe}"
        headers: list[tuple[str, str]] = []
        return_path = None
        if bulk:
            targets = [f"<{unsubscribe_url}>"]
            if self.bounce_domain:
                targets.append(f"<mailto:u-{unsubscribe}@{self.bounce_domain}?subject=unsubscribe>")
            headers.append(("List-Unsubscribe", ", ".join(targets)))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        if self.bounce_domain:
            return_path = f"b-{self.key.make(Purpose.BOUNCE, subject)}@{self.bounce_domain}"
            headers.append(("CFBL-Address", f"fbl@{self.bounce_domain}; report=arf"))
            headers.append(("CFBL-Feedback-ID", self.key.make(Purpose.FEEDBACK_ID, subject)))
        tracker = None
        if opens or clicks:
            tracker = self._tracker(subject, unsubscribe_url, opens=opens, clicks=clicks)
        return MessageFeedback(
            return_path,
            unsubscribe_url,
            headers,
            tracker,
            f"{self.base_url}/p/{unsubscribe}",
            f"{self.base_url}/v/{self.key.make(Purpose.VIEW, subject)}",
        )

    def _tracker(
        self, subject: Subject, unsubscribe_url: str, *, opens: bool, clicks: bool
    ) -> Callable[[str], str]:
        def rewrite(match: re.Match[str]) -> str:
            target = html.unescape(match.group(3))
            if target.startswith(self.base_url) or target == unsubscribe_url:
                return match.group(0)  # our own links stay as they are
            token = self.key.make(Purpose.CLICK, subject, target.encode("utf-8"))
            tracked = html.escape(f"{self.base_url}/c/{token}?u={quote(target, safe='')}")
            return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

        def track(body: str) -> str:
            if clicks:
                body = _HREF.sub(rewrite, body)
            if opens:
                url = f"{self.base_url}/o/{self.key.make(Purpose.OPEN, subject)}"
                pixel = (
                    f'<img src="{html.escape(url)}" width="1" height="1" alt=""'
                    ' style="display:block;border:0;width:1px;height:1px">'
                )
                at = _body_end(body)
                body = body[:at] + pixel + body[at:] if at >= 0 else body + pixel
            return body

        return track
