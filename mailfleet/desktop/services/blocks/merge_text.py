"""Marketers' text made safe for HTML without breaking the merge tags in it.

Escaping ``{{ name|default("there") }}`` would turn its quotes into ``&quot;`` and the agent's
Jinja could no longer read it, so merge tags (``{{ … }}``, ``{% … %}``) are set aside before the
text is escaped or read as Markdown, and put back unchanged afterwards.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from markdown_it import MarkdownIt

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# A private-use character cannot be typed by accident and passes Markdown and escaping untouched.
_MARK = "\ue000"
_MARKED = re.compile(_MARK + r"(\d+)" + _MARK)
# Raw HTML in a text block is shown as text: the block editor is for people who do not write it.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _keeping_tags(text: str, convert: Callable[[str], str]) -> str:
    tags: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return f"{_MARK}{len(tags) - 1}{_MARK}"

    converted = convert(_TAG.sub(set_aside, text.replace(_MARK, "")))
    return _MARKED.sub(lambda m: tags[int(m.group(1))], converted)


def escape(text: str) -> str:
    """``text`` as HTML text or an attribute value, merge tags kept as written."""
    return _keeping_tags(text, lambda t: html.escape(t, quote=True))


def attribute(text: str) -> str:
    """``text`` as an attribute value in double quotes: like :func:`escape`, and the merge
    tags' own double quotes become single ones (the same to Jinja) so the attribute stays
    whole."""
    return escape(_TAG.sub(lambda m: m.group(0).replace('"', "'"), text))


def markdown(text: str) -> str:
    """``text`` (Markdown) as HTML, merge tags kept as written."""
    return _keeping_tags(text, _MARKDOWN.render).strip()


def markdown_tokens(text: str) -> list[object]:
    """The Markdown parser's tokens for ``text`` (for the plain-text part)."""
    return list(_MARKDOWN.parse(text))
