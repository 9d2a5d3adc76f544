"""Counted words for the screen: "1 recipient", "2,000 recipients", "1 entry", "3 entries"."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """``one`` for a count of exactly 1, else ``many`` (``one`` + "s" unless given)."""
    if count == 1:
        return one
    return many if many is not None else f"{one}s"


def counted(count: int, one: str, many: str | None = None) -> str:
    """The count with thousands separators and its word: ``counted(2000, "recipient")`` is
    "2,000 recipients"."""
    return f"{count:,} {plural(count, one, many)}"
