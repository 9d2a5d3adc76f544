"""Pre-send checks of a message's content: each finding says what is wrong, where, and how to
fix it, in plain words. Errors block sending; warnings do not.

Pure: it reads the subject, HTML and text (and the workspace's field names, given), nothing
else, so the templates page can run it live and the wizard again before Send. What needs the
database (how many recipients lack a field) is added by ``templates.checks``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from jinja2 import TemplateSyntaxError

from mailfleet.agent.client import preview as rendering
from mailfleet.desktop.services import merge_tag_errors
from mailfleet.desktop.services.plurals import counted

ERROR, WARNING = "error", "warning"
BUILT_IN_TAGS = ("email", "name", "first_name", "last_name")
# Links the agent fills in for each recipient.
AGENT_TAGS = ("unsubscribe_url", "preferences_url", "web_version_url")
# Gmail clips messages whose HTML is over about 102 KB, hiding the rest (and the unsubscribe link).
CLIP_BYTES = 102 * 1024
# Fewer words of text than this per image reads as an image-only mail to spam filters.
WORDS_PER_IMAGE = 50
_OPENS_FROM_MAIL = ("http", "https", "mailto", "tel")
_PARTS = (("subject", False), ("html", True), ("text", False))
_PART_NAMES = {"subject": "the subject", "html": "the HTML", "text": "the text"}


@dataclass(frozen=True)
class Finding:
    """One finding: ``level`` is "error" (blocks sending) or "warning"; ``fix`` says what to do."""

    level: str
    message: str
    fix: str = ""

    @property
    def blocks(self) -> bool:
        """Whether this finding stops the content from being sent."""
        return self.level == ERROR


def where(part: str, line: int | None) -> str:
    """ "In the subject", "On line 3 of the HTML": where a finding is."""
    if part == "subject" or line is None:
        return f"In {_PART_NAMES[part]}"
    return f"On line {line} of {_PART_NAMES[part]}"


def used_fields(subject: str, html: str, text: str) -> set[str]:
    """The merge fields the content uses; ``TemplateSyntaxError`` for a broken part."""
    used: set[str] = set()
    for source, is_html in ((subject, False), (html, True), (text, False)):
        if source:
            used |= rendering.template_variables(source, html=is_html)
    return used


def check_content(subject: str, html: str, text: str, fields: Iterable[str]) -> list[Finding]:
    """Every finding about this content; ``fields`` are the workspace's own merge fields."""
    found: list[Finding] = []
    if not subject.strip():
        found.append(Finding(ERROR, "The subject is empty.", "Write a subject line."))
    if not (html.strip() or text.strip()):
        found.append(
            Finding(
                ERROR,
                "There is neither an HTML nor a text body.",
                "Write the message in the HTML or the text box.",
            )
        )
    used, broken = _merge_tag_findings({"subject": subject, "html": html, "text": text}, fields)
    found += broken
    page = _Html()
    page.feed(html)
    page.close()
    found += page.findings
    if html.strip() and page.images and page.words < WORDS_PER_IMAGE * len(page.images):
        found.append(
            Finding(
                WARNING,
                f"The message is mostly images: {counted(len(page.images), 'image')} and "
                f"{counted(page.words, 'word')} of text.",
                "Add text: spam filters distrust image-only mail; many readers do not load images.",
            )
        )
    linked = " ".join(page.links).lower()
    if not (
        "unsubscribe" in linked
        or "unsubscribe" in text.lower()
        or used & {"unsubscribe_url", "preferences_url"}
    ):
        found.append(
            Finding(
                WARNING,
                "There is no unsubscribe link: mailbox providers expect one in every bulk message.",
                'Add a link to {{ unsubscribe_url }}, e.g. <a href="{{ unsubscribe_url }}">'
                "Unsubscribe</a>.",
            )
        )
    size = len(html.encode())
    if size > CLIP_BYTES:
        found.append(
            Finding(
                WARNING,
                f"The HTML is {size // 1024} KB: Gmail clips messages over 102 KB, hiding the rest "
                "(and the unsubscribe link).",
                "Shorten it, or move long parts to a web page and link to it.",
            )
        )
    return sorted(found, key=lambda f: not f.blocks)  # errors first, each kind in order


def _merge_tag_findings(
    parts: dict[str, str], fields: Iterable[str]
) -> tuple[set[str], list[Finding]]:
    """The fields the readable parts use, and the merge-tag errors of every part."""
    known = [*BUILT_IN_TAGS, *fields]
    used: dict[str, set[str]] = {}
    found: list[Finding] = []
    for part, is_html in _PARTS:
        source = parts[part]
        if not source:
            continue
        try:
            used[part] = rendering.template_variables(source, html=is_html)
        except TemplateSyntaxError as exc:
            explained = merge_tag_errors.explain(exc)
            found.append(
                Finding(
                    ERROR,
                    f"{where(part, exc.lineno)}, {_lower_first(explained.problem)}",
                    explained.fix,
                )
            )
    reported: set[str] = set()
    for part, _ in _PARTS:
        for tag in sorted(used.get(part, set()) - set(known) - set(AGENT_TAGS) - reported):
            reported.add(tag)
            line = merge_tag_errors.first_line(parts[part], tag)
            guess = merge_tag_errors.did_you_mean(tag, [*known, *AGENT_TAGS])
            fix = (
                f"Did you mean {{{{ {guess} }}}}?"
                if guess
                else "Add it as a field (Contacts → Fields…) or remove it."
            )
            found.append(
                Finding(
                    ERROR,
                    f"{where(part, line)}, {{{{ {tag} }}}} is not a field of this workspace.",
                    fix,
                )
            )
    return set().union(*used.values()), found


def _lower_first(sentence: str) -> str:
    # "A merge tag…" continues "In the subject, a merge tag…"; "{% if %}…" stays as it is.
    return sentence[:1].lower() + sentence[1:] if sentence[:1].isalpha() else sentence


class _Html(HTMLParser):
    """Images, links and the words of text in the HTML, with findings about them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[Finding] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.words = 0
        self._hidden = 0  # inside <style>, <script> or <title>: not text a reader sees
        self._link: tuple[int, str, list[str]] | None = None  # the open <a>: line, href, text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {key: value or "" for key, value in attrs}
        line = self.getpos()[0]
        if tag in ("style", "script", "title"):
            self._hidden += 1
        elif tag == "img":
            src = named.get("src", "").strip() or "(no address)"
            self.images.append(src)
            alt = named.get("alt", "").strip()
            if not alt:
                self.findings.append(
                    Finding(
                        WARNING,
                        f"{where('html', line)}, the image {src} has no alt text.",
                        "Describe the image in its alt text: many readers see that instead.",
                    )
                )
            elif self._link is not None:
                self._link[2].append(alt)
        elif tag == "a" and "href" in named:
            self._close_link()
            self._link = (line, named["href"].strip(), [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._hidden = max(self._hidden - 1, 0)
        elif tag == "a":
            self._close_link()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.words += len(data.split())
        if self._link is not None:
            self._link[2].append(data)

    def close(self) -> None:
        """Finish reading, and judge a link left open at the end."""
        super().close()
        self._close_link()

    def _close_link(self) -> None:
        if self._link is None:
            return
        line, href, words = self._link
        self._link = None
        self.links.append(href)
        shown = " ".join(" ".join(words).split())
        if not shown:
            self.findings.append(
                Finding(
                    WARNING,
                    f"{where('html', line)}, the link to {href or '(nowhere)'} has no text.",
                    "Give it words that say where it goes (or alt text on its image).",
                )
            )
        if href.startswith("{{"):
            return  # a merge tag the agent fills in: its value is the recipient's own link
        scheme = urlsplit(href).scheme.lower() if href else ""
        if scheme not in _OPENS_FROM_MAIL:
            self.findings.append(
                Finding(
                    WARNING,
                    f"{where('html', line)}, the link “{shown or href}” goes to "
                    f"{href or 'nowhere'}, which does not open from an email.",
                    "Use a full web address starting with https://.",
                )
            )
