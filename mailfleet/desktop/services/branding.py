"""A workspace's branding for its starter templates: its name, and the accent colour and logo
of its branding setting (``services.workspace_branding``), else those its marketers chose for
their signup forms (the most recently changed form that has them)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from mailfleet.desktop.db.models import SignupForm, Workspace
from mailfleet.desktop.services.blocks.starters import Branding


def workspace_branding(conn: Connection, workspace_id: int) -> Branding:
    """The workspace's name, accent colour and logo ("" for what no form sets)."""
    row = conn.execute(
        select(Workspace.name, Workspace.brand_accent_color, Workspace.brand_logo_url).where(
            Workspace.id == workspace_id
        )
    ).first()
    name, accent, logo = tuple(row) if row is not None else ("", "", "")
    definitions = conn.scalars(
        select(SignupForm.definition)
        .where(SignupForm.workspace_id == workspace_id)
        .order_by(SignupForm.updated_at.desc(), SignupForm.id.desc())
    )
    for definition in definitions:
        accent = accent or str(definition.get("accent_color") or "")
        logo = logo or str(definition.get("logo_url") or "")
    return Branding(name, accent, logo)
