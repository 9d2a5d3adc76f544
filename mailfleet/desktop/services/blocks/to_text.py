"""The plain-text part of a designed message, written from its blocks rather than scraped
from the HTML: headings, paragraphs, links as "text (address)", buttons as "label: address",
and the footer's unsubscribe and preferences addresses spelled out."""

from __future__ import annotations

from typing import Any

from mailfleet.desktop.services.blocks import merge_text
from mailfleet.desktop.services.blocks.model import (
    Block,
    Button,
    Design,
    Divider,
    Footer,
    Heading,
    Image,
    Social,
    Text,
)


def markdown_text(source: str) -> str:
    """Markdown as plain text: the words, list items with a dash, links with their address."""
    paragraphs: list[str] = []
    in_item = False
    for token in merge_text.markdown_tokens(source):
        tok: Any = token
        if tok.type in ("list_item_open", "list_item_close"):
            in_item = tok.type == "list_item_open"
        elif tok.type == "inline":
            words = _inline(tok.children or [])
            if in_item and paragraphs and paragraphs[-1].startswith("- "):
                paragraphs[-1] += f"\n- {words}"
            else:
                paragraphs.append(f"- {words}" if in_item else words)
    return "\n\n".join(p for p in paragraphs if p)


def _inline(children: list[Any]) -> str:
    out: list[str] = []
    href = ""
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "link_open":
            href = str(child.attrGet("href") or "")
        elif child.type == "link_close" and href:
            out.append(f" ({href})")
            href = ""
        elif child.type == "image":
            out.append(child.content)
    return "".join(out).strip()


def block(b: Block) -> str:
    """One block's text ("" for blocks with none)."""
    if isinstance(b, Heading):
        return b.text
    if isinstance(b, Text):
        return markdown_text(b.text)
    if isinstance(b, Button):
        return f"{b.label}: {b.href}" if b.href else b.label
    if isinstance(b, Image):
        return f"{b.alt} ({b.href})" if b.alt and b.href else b.alt
    if isinstance(b, Divider):
        return "-" * 40
    if isinstance(b, Social):
        return "\n".join(f"{name.capitalize()}: {href}" for name, href in b.networks())
    if isinstance(b, Footer):
        return "\n".join(
            part
            for part in (
                markdown_text(b.text),
                f"{b.unsubscribe_label}: {{{{ unsubscribe_url }}}}",
                f"{b.preferences_label}: {{{{ preferences_url }}}}",
            )
            if part
        )
    return ""


def render(design: Design) -> str:
    """The whole design's text part, blocks in reading order (columns left to right)."""
    parts = [
        block(b) for section in design.sections for column in section.columns for b in column.blocks
    ]
    return "\n\n".join(p for p in parts if p.strip()) + "\n"
