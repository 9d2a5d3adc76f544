"""A design written as MJML: the responsive, client-safe layout MRML turns into HTML."""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.desktop.services.blocks import merge_text
from mailfleet.desktop.services.blocks.model import (
    Block,
    Button,
    Column,
    Design,
    Divider,
    Footer,
    Heading,
    Image,
    Section,
    Social,
    Spacer,
    Text,
)

HEADING_SIZES = {1: 28, 2: 22, 3: 18}


def _attrs(**values: object) -> str:
    """MJML attributes from keyword arguments (``_`` for ``-``); empty values are left out so
    MJML's defaults and the design's ``mj-attributes`` apply."""
    parts = []
    for name, value in values.items():
        if value in ("", None):
            continue
        text = f"{value}px" if isinstance(value, int) and not isinstance(value, bool) else value
        parts.append(f'{name.replace("_", "-")}="{merge_text.attribute(str(text))}"')
    return " ".join(parts)


def _heading(b: Heading, design: Design) -> str:
    attrs = _attrs(
        color=b.color,
        align=b.align,
        padding=b.padding,
        font_size=HEADING_SIZES[b.level],
        font_weight="700",
        line_height="1.25",
    )
    heading = f'<h{b.level} style="margin:0;font-size:inherit">{merge_text.escape(b.text)}'
    return f"<mj-text {attrs}>{heading}</h{b.level}></mj-text>"


def _text(b: Text, design: Design) -> str:
    attrs = _attrs(
        color=b.color, align=b.align, padding=b.padding, font_size=b.font_size, line_height="1.5"
    )
    return f"<mj-text {attrs}>{merge_text.markdown(b.text)}</mj-text>"


def _image(b: Image, design: Design) -> str:
    attrs = _attrs(
        src=b.src, alt=b.alt, href=b.href, align=b.align, padding=b.padding, width=b.width or None
    )
    return f"<mj-image {attrs} />"


def _button(b: Button, design: Design) -> str:
    attrs = _attrs(
        href=b.href,
        background_color=b.background_color,
        color=b.color,
        border_radius=b.border_radius,
        align=b.align,
        padding=b.padding,
        font_weight="600",
        inner_padding="12px 24px",
    )
    return f"<mj-button {attrs}>{merge_text.escape(b.label)}</mj-button>"


def _divider(b: Divider, design: Design) -> str:
    attrs = _attrs(border_color=b.color, border_width=b.thickness, padding=b.padding)
    return f"<mj-divider {attrs} />"


def _spacer(b: Spacer, design: Design) -> str:
    return f"<mj-spacer {_attrs(height=b.height)} />"


def _social(b: Social, design: Design) -> str:
    links = "".join(
        f"<mj-social-element {_attrs(name=n, href=href, alt=n.capitalize())}></mj-social-element>"
        for n, href in b.networks()
    )
    attrs = _attrs(align=b.align, padding=b.padding, mode="horizontal", icon_size="28px")
    return f"<mj-social {attrs}>{links}</mj-social>"


def _footer(b: Footer, design: Design) -> str:
    link = f'style="color:{b.color or design.text_color};text-decoration:underline"'
    links = (
        f'<a href="{{{{ unsubscribe_url }}}}" {link}>{merge_text.escape(b.unsubscribe_label)}</a>'
        " · "
        f'<a href="{{{{ preferences_url }}}}" {link}>{merge_text.escape(b.preferences_label)}</a>'
    )
    attrs = _attrs(color=b.color, align=b.align, padding=b.padding, font_size=12, line_height="1.5")
    return f"<mj-text {attrs}>{merge_text.markdown(b.text)}<p>{links}</p></mj-text>"


_WRITERS: dict[type[Block], Callable[..., str]] = {
    Heading: _heading,
    Text: _text,
    Image: _image,
    Button: _button,
    Divider: _divider,
    Spacer: _spacer,
    Social: _social,
    Footer: _footer,
}


def block(b: Block, design: Design) -> str:
    """One block as MJML."""
    return _WRITERS[type(b)](b, design)


def _column(column: Column, design: Design) -> str:
    inner = "".join(block(b, design) for b in column.blocks)
    return f"<mj-column {_attrs(background_color=column.background_color)}>{inner}</mj-column>"


def _section(section: Section, design: Design) -> str:
    attrs = _attrs(background_color=section.background_color, padding=section.padding)
    inner = "".join(_column(c, design) for c in section.columns)
    return f"<mj-section {attrs}>{inner}</mj-section>"


def _preview(design: Design) -> str:
    if not design.preheader:
        return ""
    return f"<mj-preview>{merge_text.escape(design.preheader)}</mj-preview>"


def document(design: Design) -> str:
    """The whole design as an MJML document."""
    head = (
        "<mj-head><mj-attributes>"
        f"<mj-all {_attrs(font_family=design.font_family)} />"
        f"<mj-text {_attrs(color=design.text_color)} />"
        "</mj-attributes>"
        f"<mj-style>a {{ color: {design.link_color}; }} p {{ margin: 0 0 12px; }}</mj-style>"
        + _preview(design)
        + "</mj-head>"
    )
    body_attrs = _attrs(background_color=design.background_color, width=design.width)
    sections = "".join(_section(s, design) for s in design.sections)
    return f"<mjml>{head}<mj-body {body_attrs}>{sections}</mj-body></mjml>"
