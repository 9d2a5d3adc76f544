"""A campaign's A/B test and send window in the desktop's database: a draft keeps them, a
duplicate copies them, the campaigns list knows which campaign has a test, and a test or a
window the agents would refuse is refused before anything is saved."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert

from mailfleet.desktop.db.models import Campaign, CampaignState
from mailfleet.desktop.services import campaigns, lists
from mailfleet.desktop.services.ab_tests import AbPlan, Rule, Variant, Vary
from mailfleet.desktop.services.campaigns import Audience, CampaignError, Draft
from mailfleet.desktop.services.send_windows import SendWindow

PLAN = AbPlan(Vary.FROM_NAME, (Variant(from_name="Ann"), Variant(from_name="Bob")), 30,
              Rule.OPENS, 6)  # fmt: skip
WINDOW = SendWindow((1, 2, 3, 4, 5), 8 * 60, 20 * 60, "Europe/Berlin")


def _draft(list_id: int, **kw: object) -> Draft:
    values: dict[str, object] = {
        "name": "Spring", "audience": Audience(lists=(list_id,)), "subject": "Hi",
        "from_address": "news@shop.example", "html": "<p>x</p>", "agents": ((1, 1),),
    }  # fmt: skip
    values.update(kw)
    return Draft(**values)  # type: ignore[arg-type]


def test_a_draft_keeps_its_test_and_window_and_a_duplicate_copies_them(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        list_id = lists.create(conn, workspace, "VIP")
        ident = conn.scalar(
            insert(Campaign)
            .values(workspace_id=workspace, name="Spring", state=CampaignState.DRAFT.value,
                    audience={}, subject="", from_address="", key_prefix="k")
            .returning(Campaign.id)
        )  # fmt: skip
        assert ident is not None
        plain = campaigns.duplicate(conn, workspace, ident)
        campaigns.save_draft(
            conn, workspace, ident, _draft(list_id, ab_test=PLAN, send_window=WINDOW)
        )
        copy = campaigns.duplicate(conn, workspace, ident)
    with engine.connect() as conn:
        for draft_id in (ident, copy):
            kept = campaigns.draft_of(conn, workspace, draft_id)
            assert (kept.ab_test, kept.send_window) == (PLAN, WINDOW)
        none = campaigns.draft_of(conn, workspace, plain)
        assert (none.ab_test, none.send_window) == (None, None)
        flags = {r.id: r.ab_test for r in campaigns.list_campaigns(conn, workspace)}
    assert flags == {ident: True, copy: True, plain: False}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"ab_test": AbPlan(Vary.SUBJECT, (Variant(subject="A"), Variant()))},
         "variant B has no subject"),
        ({"send_window": SendWindow((), 0, 60, "UTC")}, "choose at least one day to send on"),
    ],
)  # fmt: skip
def test_a_test_or_window_the_agents_would_refuse_is_not_saved(
    engine: Engine, workspace: int, change: dict[str, object], problem: str
) -> None:
    with engine.begin() as conn:
        list_id = lists.create(conn, workspace, "VIP")
    with pytest.raises(CampaignError, match=problem):
        campaigns.create(engine, workspace, _draft(list_id, **change))
