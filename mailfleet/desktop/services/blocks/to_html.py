"""A design rendered to the HTML a message carries: MRML in-process, then the CSS inlined.

MRML (the ``mjml`` module of the ``mjml-python`` package, a Rust port of MJML) writes the
responsive tables; ``css-inline`` copies the stylesheet onto each element, since several mail
clients drop ``<style>``. The ``<style>`` blocks stay too: their media queries are what stacks
the columns on a phone. No web font is linked and no remote stylesheet is fetched, so rendering
never touches the network.
"""

from __future__ import annotations

import css_inline
import mjml

from mailfleet.desktop.services.blocks import to_mjml
from mailfleet.desktop.services.blocks.model import Design

_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def render(design: Design) -> str:
    """The design's HTML, merge tags left for the agent's renderer to fill in."""
    rendered = mjml.mjml2html(to_mjml.document(design), disable_comments=False, fonts={})
    return _INLINER.inline(rendered)
