"""A small, honest HTML to plain-text conversion for the text part of a message.

Regular expressions rather than an HTML parser: the worker converts every recipient's HTML
when a campaign has no text template, and ``html.parser`` costs several times more. What it
does: drops ``head``, ``script``, ``style`` and comments, keeps each link's target after its
label, turns block elements and ``<br>`` into line breaks and list items into "- " lines,
strips every other tag, decodes entities and tidies the whitespace.
"""

from __future__ import annotations

import html
import re

_INVISIBLE = re.compile(
    r"<!--.*?-->|<(head|script|style|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_LINK = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>(.*?)</a\s*>""",
    re.IGNORECASE | re.DOTALL,
)
_LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
_BREAK = re.compile(
    r"<br\b[^>]*>|</?(?:p|div|h[1-6]|tr|table|ul|ol|blockquote|pre|hr|section|article"
    r"|header|footer|center)\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_SPACED_NEWLINES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")


def _link(match: re.Match[str]) -> str:
    # Still entity-encoded here: the whole text is decoded once, at the end.
    target = (match.group(1) or match.group(2) or match.group(3) or "").strip()
    label = _TAG.sub("", match.group(4)).strip()
    shown = html.unescape(label)
    plain_target = html.unescape(target)
    if plain_target.lower().startswith("mailto:"):
        plain_target = plain_target[7:]
    if not target or target.startswith("#") or shown == plain_target:
        return label or target
    return f"{label} ({target})" if label else target


def html_to_text(source: str) -> str:
    """Plain text of an HTML document: readable lines, link targets kept, entities decoded."""
    text = _INVISIBLE.sub("", source)
    text = _LINK.sub(_link, text)
    text = _LIST_ITEM.sub("\n- ", text)
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = _SPACES.sub(" ", html.unescape(text))
    text = _SPACED_NEWLINES.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
