"""Rendering a template as the agents' workers will, for a preview before anything is sent.

It runs the workers' own renderer (the sandbox, the escaping, the text part derived from the
HTML), so what a preview shows is what recipients get. This is the desktop's narrow door to it.
"""

from __future__ import annotations

from collections.abc import Mapping

from jinja2 import meta

from mailfleet.agent.model import Content, Sender
from mailfleet.agent.render.message import Renderer, RenderError
from mailfleet.agent.render.templates import environment


class PreviewError(ValueError):
    """The template cannot be rendered; the message says why."""


def render(
    subject: str,
    html: str,
    text: str,
    *,
    to_email: str,
    to_name: str,
    fields: Mapping[str, str],
    sender: str,
    max_bytes: int,
) -> bytes:
    """The message one recipient would get (RFC 5322 bytes), or :class:`PreviewError`."""
    renderer = Renderer("preview.mailfleet", timeout_seconds=5.0, max_bytes=max_bytes)
    try:
        return renderer.render(
            message_id=0,
            sender=Sender(from_address=sender),
            content=Content(subject=subject, html=html, text=text),
            to_email=to_email,
            to_name=to_name,
            fields=fields,
        )
    except (RenderError, ValueError) as exc:
        raise PreviewError(str(exc)) from exc


def template_variables(source: str, *, html: bool) -> set[str]:
    """The variables a template uses; ``jinja2.TemplateSyntaxError`` for a broken one,
    including one that parses but that the agent would refuse to compile (an unknown filter)."""
    env = environment(html=html)
    tree = env.parse(source)
    env.compile(tree)  # what the agent does on accepting it: unknown filters and tests fail here
    return meta.find_undeclared_variables(tree)
