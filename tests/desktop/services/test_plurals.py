"""Counted words: one recipient, two recipients, and irregular plurals."""

from __future__ import annotations

from mailfleet.desktop.services.plurals import counted, plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "recipient") == "1 recipient"
    assert counted(0, "recipient") == "0 recipients"
    assert counted(2000, "recipient") == "2,000 recipients"
    assert counted(1, "entry", "entries") == "1 entry"
    assert counted(3, "entry", "entries") == "3 entries"
    assert plural(1, "has", "have") == "has" and plural(2, "has", "have") == "have"
