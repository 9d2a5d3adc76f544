"""The workspace's branding: the logo, colours and language of the public pages its agents
serve (unsubscribe and preferences; a form's pages take each part the form leaves empty).

It is kept on the workspace row with a revision that every save raises; each agent records the
revision it accepted (``agents.brand_revision``), so the signup sync pushes it to an agent that
is behind, however long it was away (``mailfleet.desktop.agents.branding_push``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Connection, select, update

from mailfleet.desktop.db.models import Agent, Workspace
from mailfleet.desktop.services.languages import LANGUAGES

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


class BrandingError(ValueError):
    """Branding that cannot be saved; the message says what to fix, for the marketer."""


@dataclass(frozen=True)
class Branding:
    """The workspace's look; an empty part is the agents' default."""

    logo_url: str = ""
    accent_color: str = ""  # buttons and links
    background_color: str = ""
    text_color: str = ""
    language: str = "en"


@dataclass(frozen=True)
class PendingBranding:
    """The branding an agent lacks, and the revision to record once it accepted it."""

    branding: Branding
    revision: int


def checked(branding: Branding) -> Branding:
    """``branding`` with its parts trimmed, or ``BrandingError`` saying what is wrong."""
    clean = Branding(
        branding.logo_url.strip(),
        branding.accent_color.strip().lower(),
        branding.background_color.strip().lower(),
        branding.text_color.strip().lower(),
        branding.language,
    )
    colours = (
        ("button colour", clean.accent_color),
        ("background colour", clean.background_color),
        ("text colour", clean.text_color),
    )
    for what, colour in colours:
        if colour and not _COLOUR.fullmatch(colour):
            raise BrandingError(f"The {what} {colour} is not a colour: write it as #rrggbb.")
    parts = urlsplit(clean.logo_url)
    if clean.logo_url and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise BrandingError("The logo must be a web address starting with https://.")
    if clean.language not in LANGUAGES:
        raise BrandingError("Choose the pages' language.")
    return clean


# Branding's parts, in its fields' order.
_LOOK = (
    Workspace.brand_logo_url,
    Workspace.brand_accent_color,
    Workspace.brand_background_color,
    Workspace.brand_text_color,
    Workspace.brand_language,
)


def _from_row(logo: str, accent: str, background: str, text: str, language: str) -> Branding:
    return Branding(logo, accent, background, text, language or "en")


def branding(conn: Connection, workspace_id: int) -> Branding:
    """The workspace's branding as saved (the defaults before any save)."""
    row = conn.execute(select(*_LOOK).where(Workspace.id == workspace_id)).one()
    return _from_row(*row)


def save(conn: Connection, workspace_id: int, chosen: Branding) -> Branding:
    """Keep ``chosen`` (checked: ``BrandingError``) as a new revision for every agent to get."""
    clean = checked(chosen)
    conn.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(
            brand_logo_url=clean.logo_url,
            brand_accent_color=clean.accent_color,
            brand_background_color=clean.background_color,
            brand_text_color=clean.text_color,
            brand_language=clean.language,
            brand_revision=Workspace.brand_revision + 1,
        )
    )
    return clean


def pending_for(conn: Connection, agent_id: int) -> PendingBranding | None:
    """The branding agent ``agent_id`` has not accepted yet, or None when it is up to date."""
    row = conn.execute(
        select(*_LOOK, Workspace.brand_revision)
        .join(Agent, Agent.workspace_id == Workspace.id)
        .where(Agent.id == agent_id, Agent.brand_revision < Workspace.brand_revision)
    ).first()
    if row is None:
        return None
    return PendingBranding(_from_row(*row[:5]), row[5])


def record_push(conn: Connection, agent_id: int, revision: int) -> None:
    """Agent ``agent_id`` accepted ``revision`` (never goes back: a later save may be newer)."""
    conn.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.brand_revision < revision)
        .values(brand_revision=revision)
    )
