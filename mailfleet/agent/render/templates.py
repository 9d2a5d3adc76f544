"""The one Jinja2 environment of the agent: sandboxed, immutable, HTML autoescaped.

Templates are compiled when a campaign or message is accepted, so a syntax error is the
client's INVALID_ARGUMENT, never a failure at send time.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Largest result of one "*" repetition (characters or items) and of one "**" (bits): a single
# operation runs in C, where neither the render time cap nor the size cap can stop it.
_MAX_REPEAT = 1_000_000
_MAX_POWER_BITS = 100_000


class TemplateError(ValueError):
    """A template does not compile; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with "*" and "**" checked so one expression cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse a repetition or power whose result would be huge, then compute it."""
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | bytes | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_REPEAT
                ):
                    raise SecurityError("repetition result too large")
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and left.bit_length() * right > _MAX_POWER_BITS
        ):
            raise SecurityError("power result too large")
        return super().call_binop(context, operator, left, right)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as a plain dict, not Jinja's ChainMap over the environment's.

        Every render copies the globals into a new context, and copying a ChainMap runs in
        Python: for the three templates of each message it cost more than the rendering of
        their merge fields. The environment's globals never change once it is made, so a
        snapshot is the same map.
        """
        return {**self.globals, **(d or {})}


@cache
def environment(*, html: bool, strict: bool = False) -> ImmutableSandboxedEnvironment:
    """The sandbox for HTML (autoescaped) or plain-text templates."""
    return _Sandbox(
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
