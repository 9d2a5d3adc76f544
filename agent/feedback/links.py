"""What the feedback loop adds to each outgoing message: its VERP return path, the
List-Unsubscribe pair (RFC 2369, RFC 8058), the CFBL headers (RFC 9477), and the tracking
URLs of its open pixel and links."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from agent.feedback.tokens import Purpose, Subject, TokenKey

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'<>]+)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class FeedbackLinks:
    """Builds one message's feedback addresses and URLs."""

    key: TokenKey
    base_url: str  # the agent's public HTTP base URL, without a trailing slash
    bounce_domain: str  # "" when the agent receives no mail: no VERP, no mailto unsubscribe

    def return_path(self, subject: Subject) -> str | None:
        """``b-<token>@<bounce domain>``, or None without a bounce domain."""
        if not self.bounce_domain:
            return None
        return f"b-{self.key.make(Purpose.BOUNCE, subject)}@{self.bounce_domain}"

    def unsubscribe_url(self, subject: Subject) -> str:
        """The one-click unsubscribe URL (also ``{{ unsubscribe_url }}`` in templates)."""
        return f"{self.base_url}/u/{self.key.make(Purpose.UNSUBSCRIBE, subject)}"

    def headers(self, subject: Subject, bulk: bool) -> list[tuple[str, str]]:
        """Header fields for the message: List-Unsubscribe and List-Unsubscribe-Post for bulk
        mail, CFBL-Address and CFBL-Feedback-ID whenever there is a bounce domain."""
        fields: list[tuple[str, str]] = []
        if bulk:
            targets = [f"<{self.unsubscribe_url(subject)}>"]
            if self.bounce_domain:
                token = self.key.make(Purpose.UNSUBSCRIBE, subject)
                targets.append(f"<mailto:u-{token}@{self.bounce_domain}?subject=unsubscribe>")
            fields.append(("List-Unsubscribe", ", ".join(targets)))
            fields.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        if self.bounce_domain:
            fields.append(("CFBL-Address", f"fbl@{self.bounce_domain}; report=arf"))
            fields.append(("CFBL-Feedback-ID", self.key.make(Purpose.FEEDBACK_ID, subject)))
        return fields

    def open_url(self, subject: Subject) -> str:
        """The open pixel's URL."""
        return f"{self.base_url}/o/{self.key.make(Purpose.OPEN, subject)}"

    def click_url(self, subject: Subject, target: str) -> str:
        """A tracked link to ``target``: the token signs the target too."""
        token = self.key.make(Purpose.CLICK, subject, target.encode("utf-8"))
        return f"{self.base_url}/c/{token}?u={quote(target, safe='')}"

    def tracker(
        self, subject: Subject, *, opens: bool, clicks: bool
    ) -> Callable[[str], str] | None:
        """A function that adds the open pixel and rewrites the links of an HTML body, or
        None when neither is tracked."""
        if not (opens or clicks):
            return None
        unsubscribe = self.unsubscribe_url(subject)

        def track(body: str) -> str:
            if clicks:

                def rewrite(match: re.Match[str]) -> str:
                    target = html.unescape(match.group(3))
                    if target.startswith(self.base_url) or target == unsubscribe:
                        return match.group(0)  # our own links stay as they are
                    tracked = html.escape(self.click_url(subject, target), quote=True)
                    return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

                body = _HREF.sub(rewrite, body)
            if opens:
                pixel = (
                    f'<img src="{html.escape(self.open_url(subject))}" width="1" height="1"'
                    ' alt="" style="display:block;border:0;width:1px;height:1px">'
                )
                ends = list(_BODY_END.finditer(body))
                if ends:
                    at = ends[-1].start()
                    body = body[:at] + pixel + body[at:]
                else:
                    body += pixel
            return body

        return track
