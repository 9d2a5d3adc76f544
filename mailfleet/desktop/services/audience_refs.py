"""Which campaigns chose a list or a segment as their audience.

A sent campaign's recipients were fixed when it was saved, so deleting a list or segment it
chose changes nothing for it; a draft still has to resolve its audience when it is sent, so it
depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, select

from mailfleet.desktop.db.models import Campaign, CampaignState


@dataclass(frozen=True)
class AudienceUse:
    """The campaigns (by name) whose audience includes a list or segment: drafts, which need
    it to be sent, and the others, which do not."""

    drafts: tuple[str, ...]
    others: tuple[str, ...]


def campaigns_using(
    conn: Connection, workspace_id: int, kind: Literal["lists", "segments"], ident: int
) -> AudienceUse:
    """The workspace's campaigns whose audience includes list or segment ``ident``."""
    drafts: list[str] = []
    others: list[str] = []
    rows = conn.execute(
        select(Campaign.name, Campaign.state, Campaign.audience)
        .where(Campaign.workspace_id == workspace_id)
        .order_by(Campaign.id)
    )
    for name, state, audience in rows:
        if ident in (audience or {}).get(kind, []):
            (drafts if state == CampaignState.DRAFT.value else others).append(name)
    return AudienceUse(tuple(drafts), tuple(others))


def drafts_message(use: AudienceUse, what: str) -> str:
    """Why ``what`` (a list or segment) cannot go while drafts need it, naming them."""
    names = ", ".join(f"“{n}”" for n in use.drafts)
    which = "the draft campaign" if len(use.drafts) == 1 else "the draft campaigns"
    return f"{what} is the audience of {which} {names}: change their audience or delete them first"


def refuse_if_drafts(use: AudienceUse, what: str) -> None:
    """``ValueError`` naming the drafts when some still need ``what``."""
    if use.drafts:
        raise ValueError(drafts_message(use, what))
