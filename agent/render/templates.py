"""The one Jinja2 environment of the agent: sandboxed, immutable, HTML autoescaped.

Templates are compiled when a campaign or message is accepted, so a syntax error is the
client's INVALID_ARGUMENT, never a failure at send time.
"""

from __future__ import annotations

from functools import cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(ValueError):
    """A template does not compile; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@cache
def environment(*, html: bool, strict: bool = False) -> ImmutableSandboxedEnvironment:
    """The sandbox for HTML (autoescaped) or plain-text templates."""
    return ImmutableSandboxedEnvironment(
        autoescape=html,
        undefined=StrictUndefined if strict else Undefined,
        keep_trailing_newline=True,
    )


def compile_template(source: str, *, html: bool) -> Template:
    """Compile a template, raising :class:`TemplateError` with line and message."""
    try:
        return environment(html=html).from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.lineno, exc.message or "syntax error") from None
