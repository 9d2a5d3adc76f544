"""Merge-tag mistakes in plain words: what the template engine's error means, where a merge
field is used, and the field that was probably meant.

The template engine (Jinja) words its errors for programmers ("Jinja was looking for the
following tags: 'endif'…"); a marketer needs to read "{% if %} is never closed: add {% endif %}".
Everything here is pure: it reads template text and the engine's message, nothing else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from jinja2 import Environment, TemplateSyntaxError

# The template commands a marketer may use, offered when an unknown one looks like them.
COMMANDS = ("if", "elif", "else", "endif", "for", "endfor", "set", "with", "endwith", "raw")
# Filters worth suggesting when an unknown one is close to them.
FILTERS = (
    "upper",
    "lower",
    "title",
    "capitalize",
    "default",
    "trim",
    "truncate",
    "replace",
    "round",
    "int",
    "float",
    "length",
    "join",
    "first",
    "last",
    "striptags",
    "urlencode",
)
_CLOSERS = {"if": "endif", "for": "endfor", "with": "endwith", "raw": "endraw", "set": "endset"}

# Tokens after which a name is not a merge field: an attribute (x.name), a filter (|name), a
# test (is name).
_NOT_A_VARIABLE_AFTER = {(".", "operator"), ("|", "operator"), ("is", "name")}


@dataclass(frozen=True)
class Explained:
    """A merge-tag mistake: what is wrong and how to fix it, both in plain words."""

    problem: str
    fix: str


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was most likely meant to be (``firstname`` → ``first_name``)."""
    options = list(choices)
    folded = {c.replace("_", "").lower(): c for c in options}
    if word.replace("_", "").lower() in folded:
        return folded[word.replace("_", "").lower()]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _quoted(pattern: str, message: str) -> str | None:
    found = re.search(pattern, message)
    return found.group(1) if found else None


def explain(exc: TemplateSyntaxError) -> Explained:
    """The engine's error as a problem and a fix a marketer can act on."""
    message = exc.message or ""
    innermost = _quoted(r"innermost block that needs to be closed is '(\w+)'", message)
    unknown = _quoted(r"^Encountered unknown tag '(\w+)'", message)
    if innermost and unknown:
        closer = _CLOSERS.get(innermost, "end" + innermost)
        return Explained(
            f"{{% {unknown} %}} comes while {{% {innermost} %}} is still open.",
            f"Close the {{% {innermost} %}} with {{% {closer} %}} first, or remove "
            f"{{% {unknown} %}}.",
        )
    if innermost:
        closer = _CLOSERS.get(innermost, "end" + innermost)
        return Explained(
            f"{{% {innermost} %}} is never closed.",
            f"Add {{% {closer} %}} where the part that depends on it ends.",
        )
    if unknown and unknown.startswith("end"):
        return Explained(
            f"{{% {unknown} %}} closes something that was never opened.",
            f"Remove it, or add the {{% {unknown[3:]} … %}} it belongs to before it.",
        )
    if unknown:
        guess = did_you_mean(unknown, COMMANDS)
        hint = f"Did you mean {{% {guess} %}}?" if guess else "Use {% if %} or {% for %}."
        return Explained(f"{{% {unknown} %}} is not a template command.", hint)
    filtered = _quoted(r"^No (?:filter|test) named '(\w+)'", message)
    if filtered:
        guess = did_you_mean(filtered, FILTERS)
        hint = (
            f"Did you mean |{guess}?"
            if guess
            else "Remove it; filters that exist include |upper, |title and |default."
        )
        return Explained(f"|{filtered} is not a filter a merge tag can use.", hint)
    if "expected 'end of print statement'" in message and "unexpected end" in message:
        return Explained(
            "A merge tag opened with {{ is not closed.", "Close it with }}, as in {{ first_name }}."
        )
    if "end of statement block'" in message and message.startswith("unexpected end"):
        return Explained("A {% is not closed.", "Close it with %}, as in {% if first_name %}.")
    if "got 'end of print statement'" in message:
        return Explained(
            "A merge tag {{ }} has nothing in it.",
            "Put a field inside, as in {{ first_name }}, or remove it.",
        )
    if "got 'end of statement block'" in message:
        return Explained(
            "A {% … %} is missing what it is about.",
            "Name a field in it, as in {% if first_name %}.",
        )
    if "expected token 'end of print statement', got 'name'" in message:
        return Explained(
            "A merge tag holds two words: a field name has no spaces.",
            "Use one field per {{ }}, with _ for spaces, as in {{ first_name }}.",
        )
    char = _quoted(r"^unexpected char [\'\"](.)[\'\"]", message)
    if char in ("'", '"'):
        return Explained(
            f"A quote {char} in a merge tag is not closed.", f"Add the closing {char}."
        )
    if char:
        return Explained(
            f"The character {char} cannot be in a merge tag.",
            "Remove it; a merge tag holds a field name, as in {{ first_name }}.",
        )
    return Explained(
        "A merge tag is written in a way that cannot be read.",
        "Check that each {{ has its }} and each {% if %} its {% endif %}.",
    )


Token = tuple[int, str, str]  # (line, kind, value) as the engine's lexer gives them


def lex(source: str) -> list[Token] | None:
    """The template's tokens, or None when it cannot be read (or is not given back verbatim)."""
    lexer = Environment(autoescape=True)  # only reads the template: nothing renders
    try:
        lexer.parse(source)
        tokens = list(lexer.lex(source))
    except TemplateSyntaxError:
        return None
    if "".join(value for _, _, value in tokens) != source:
        return None  # a construct the lexer does not give back verbatim
    return tokens


def field_reads(tokens: list[Token]) -> Iterator[tuple[int, bool]]:
    """For each token (by index), whether it reads a merge field (``{{ x }}``, ``{% if x %}``,
    ``{{ x|upper }}``) rather than an attribute, a filter, a test or text."""
    previous: tuple[str, str] = ("", "")
    for index, (_, kind, value) in enumerate(tokens):
        yield index, kind == "name" and previous not in _NOT_A_VARIABLE_AFTER
        if kind != "whitespace":
            previous = (value, kind)


def first_line(source: str, field: str) -> int | None:
    """The first line of ``source`` that reads the merge field ``field``."""
    tokens = lex(source)
    if tokens is None:
        return None
    for index, reads in field_reads(tokens):
        line, _, value = tokens[index]
        if reads and value == field:
            return line
    return None
