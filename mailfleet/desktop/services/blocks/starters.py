"""The starter designs offered on New template, in the workspace's branding.

Each starter is a design in ``starter_designs/<key>.json`` (package data). They are drawn in one
accent colour (:data:`ACCENT`) and carry a logo image at :data:`LOGO`; :func:`starter` gives
one with the workspace's own accent and logo (``services.branding``), or the workspace's name as
a heading where it has no logo.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources

from mailfleet.desktop.services.blocks import model
from mailfleet.desktop.services.blocks.model import Design, Heading, Image

ACCENT = "#2563eb"
LOGO = "https://logo.invalid/logo.png"

STARTERS = {
    "newsletter": "Newsletter",
    "announcement": "Announcement",
    "welcome": "Welcome",
    "receipt": "Receipt",
    "event": "Event invitation",
    "reengagement": "Re-engagement",
}
SUBJECTS = {
    "newsletter": "Our news this month",
    "announcement": "Introducing something new",
    "welcome": "Welcome, {{ first_name|default('friend') }}!",
    "receipt": "Your receipt",
    "event": "You are invited",
    "reengagement": "We miss you, {{ first_name|default('friend') }}",
}


@dataclass(frozen=True)
class Branding:
    """What a workspace's messages look like: its name, accent colour and logo."""

    name: str
    accent: str = ""
    logo_url: str = ""


def starter(key: str, branding: Branding) -> Design:
    """The starter ``key`` (one of :data:`STARTERS`) in ``branding``."""
    source = (
        resources.files(__package__).joinpath("starter_designs", f"{key}.json").read_text("utf-8")
    )
    design = model.from_json(source)
    accent = branding.accent or ACCENT
    for obj in model.parts(design):
        for name, _, kind in model.editable(obj):
            if kind == "color" and getattr(obj, name).lower() == ACCENT:
                setattr(obj, name, accent)
    for section in design.sections:
        for column in section.columns:
            column.blocks = [_logo(b, branding) for b in column.blocks]
    return design


def _logo(block: model.Block, branding: Branding) -> model.Block:
    if not (isinstance(block, Image) and block.src == LOGO):
        return block
    if branding.logo_url:
        kept = {f.name: getattr(block, f.name) for f in fields(block)}
        return Image(**{**kept, "src": branding.logo_url, "alt": branding.name or "Logo"})
    return Heading(text=branding.name, level=2, align=block.align, padding=block.padding)
