"""The three ways to write a template, and the HTML and text each one gives.

``html``: the HTML and text as typed. ``markdown``: the body written in Markdown (rendered with
markdown-it-py, raw HTML shown as text; the Markdown itself is the text part). ``blocks``: a
design made in the block editor (``services.blocks``), rendered through MJML. The template keeps
its source, so it re-opens in the editor it was written in, and the HTML and text rendered from
it, which campaigns, previews and checks read as for any template.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from mailfleet.desktop.services import templates
from mailfleet.desktop.services.blocks import merge_text, model, to_html, to_text

EDITORS = ("html", "markdown", "blocks")
# The kinds of block property that may hold merge tags.
_TEXT_KINDS = ("line", "text", "url", "lines")

_MARKDOWN_PAGE = (
    '<!doctype html><html><body style="margin:0;padding:24px;'
    'font-family:Helvetica, Arial, sans-serif;font-size:16px;line-height:1.5;color:#111827">'
    '<div style="max-width:600px;margin:0 auto">{body}</div></body></html>'
)


@dataclass(frozen=True)
class Body:
    """What a template's editor gives: the message's HTML and text parts."""

    html: str
    text: str


def render(editor: str, source: str, html: str = "", text: str = "") -> Body:
    """The HTML and text of a template written in ``editor``; ``html`` and ``text`` are the
    typed ones of the HTML editor. ``model.DesignError`` for a design that cannot be read."""
    if editor == "blocks":
        design = model.from_json(source)
        return Body(to_html.render(design), to_text.render(design))
    if editor == "markdown":
        return Body(_MARKDOWN_PAGE.format(body=merge_text.markdown(source)), source)
    if editor == "html":
        return Body(html, text)
    raise ValueError(f"there is no {editor!r} editor")


def rename_tag(editor: str, source: str, old: str, new: str) -> str:
    """``source`` with the merge field ``old`` renamed ``new``, as ``templates.rename_tag``
    does in HTML: in the Markdown, or in every text property of the design's blocks. A design
    that cannot be read is returned unchanged."""
    if editor == "markdown":
        return templates.rename_tag(source, old, new)
    if editor != "blocks":
        return source
    try:
        design = model.from_json(source)
    except model.DesignError:
        return source
    for part in model.parts(design):
        for name, _, kind in model.editable(part):
            if kind in _TEXT_KINDS:
                setattr(part, name, templates.rename_tag(getattr(part, name), old, new))
    return model.to_json(design)


def save(
    conn: Connection,
    workspace_id: int,
    name: str,
    subject: str,
    editor: str,
    source: str,
    template_id: int | None = None,
    html: str = "",
    text: str = "",
) -> int:
    """Render the template from its editor's source and save both; returns its id."""
    body = render(editor, source, html, text)
    return templates.save(
        conn, workspace_id, name, subject, body.html, body.text, template_id,
        editor=editor, source="" if editor == "html" else source,
    )  # fmt: skip
