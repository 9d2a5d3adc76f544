"""Managing contacts, lists, segments and campaigns by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, func, insert, select

from mailfleet.desktop.db.models import (
    Agent,
    Campaign,
    CampaignPart,
    CampaignRecipient,
    CampaignState,
    Contact,
    ContactStatus,
    PartState,
    SuppressionReason,
)
from mailfleet.desktop.db.types import utcnow
from mailfleet.desktop.services import campaigns, contacts, lists, segments, suppression
from mailfleet.desktop.services.campaigns import Audience, CampaignError, Draft
from mailfleet.desktop.services.contacts import ExistingContact

EVERYONE = {"match": "all", "rules": []}


def _contact(conn: Connection, ws: int, email: str, **extra: Any) -> int:
    values: dict[str, Any] = {"first_name": "", "last_name": "", "fields": {}, "lists": [],
                              "status": ContactStatus.SUBSCRIBED} | extra  # fmt: skip
    return contacts.create_contact(conn, ws, email=email, **values)


def _campaign(conn: Connection, ws: int, name: str, state: CampaignState,
              audience: Audience) -> int:  # fmt: skip
    new_id = conn.scalar(
        insert(Campaign)
        .values(workspace_id=ws, name=name, state=state.value, audience=audience.to_json(),
                subject="Hi {{ first_name }}", html="<p>x</p>", text="x", from_name="Shop",
                from_address="news@shop.example", reply_to="help@shop.example",
                throttle_per_minute=600, start_at=utcnow() - timedelta(days=1),
                time_zone="Europe/Paris", key_prefix=name, recipients=2)
        .returning(Campaign.id)
    )  # fmt: skip
    assert new_id is not None
    return int(new_id)


def test_a_contact_added_by_hand_is_checked_and_normalised_like_an_import(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        vip = lists.create(conn, workspace, "VIP")
        cid = _contact(conn, workspace, "  Ann.Lee@Example.ORG ", first_name="Ann",
                       fields={"city": "Oslo"}, lists=[vip])  # fmt: skip
    with engine.connect() as conn:
        found = contacts.get_contact(conn, workspace, cid)
    assert found == {"email": "Ann.Lee@example.org", "first_name": "Ann", "last_name": "",
                     "status": "subscribed", "fields": {"city": "Oslo"},
                     "lists": [vip]}  # fmt: skip
    # Another spelling of the same mailbox is the same person: its id comes back.
    with engine.begin() as conn, pytest.raises(ExistingContact) as raised:
        _contact(conn, workspace, "ANN.LEE@EXAMPLE.org")
    assert raised.value.contact_id == cid
    for bad in ("not an address", "a@b.org\r\nBcc: x@y.org", ""):
        with engine.begin() as conn, pytest.raises(ValueError):
            _contact(conn, workspace, bad)
    with engine.begin() as conn, pytest.raises(ValueError, match="control character"):
        _contact(conn, workspace, "bo@b.org", first_name="Bo\nBcc")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Contact)) == 1


def test_a_suppressed_address_is_not_added_as_subscribed(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        suppression.add(conn, workspace, "gone@x.org", SuppressionReason.UNSUBSCRIBED, "test")
    with engine.begin() as conn, pytest.raises(ValueError, match="suppression list"):
        _contact(conn, workspace, "GONE@x.org")
    with engine.begin() as conn:
        cid = _contact(conn, workspace, "gone@x.org", status=ContactStatus.UNSUBSCRIBED)
    with engine.connect() as conn:
        assert contacts.get_contact(conn, workspace, cid)["status"] == "unsubscribed"


def test_editing_a_contact_sets_its_lists(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        a, b, c = (lists.create(conn, workspace, n) for n in ("A", "B", "C"))
        cid = _contact(conn, workspace, "x@x.org", lists=[a, b])
        contacts.update_contact(conn, workspace, cid, first_name="X", last_name="Y",
                                status=ContactStatus.SUBSCRIBED, fields={},
                                lists=[b, c])  # fmt: skip
    with engine.connect() as conn:
        assert contacts.get_contact(conn, workspace, cid)["lists"] == sorted([b, c])
        assert [(i.name, i.members) for i in lists.with_counts(conn, workspace)] == [
            ("A", 0), ("B", 1), ("C", 1)]  # fmt: skip


def test_lists_rename_and_delete_keep_the_contacts(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        vip = lists.create(conn, workspace, "VIP")
        other = lists.create(conn, workspace, "Other")
        for n in range(3):
            _contact(conn, workspace, f"p{n}@x.org", lists=[vip])
        with pytest.raises(ValueError, match="already a list called Other"):
            lists.rename(conn, workspace, vip, " Other ")
        lists.rename(conn, workspace, vip, "Best customers")
        _campaign(conn, workspace, "Sent", CampaignState.COMPLETED, Audience(lists=(vip,)))
    with engine.connect() as conn:
        use = lists.campaigns_using(conn, workspace, vip)
        assert (use.drafts, use.others) == ((), ("Sent",))
    with engine.begin() as conn:
        assert lists.delete_list(conn, workspace, vip) == 3
    with engine.connect() as conn:
        assert [i.name for i in lists.with_counts(conn, workspace)] == ["Other"]
        assert conn.scalar(select(func.count()).select_from(Contact)) == 3
    with engine.begin() as conn:
        _campaign(conn, workspace, "Next", CampaignState.DRAFT, Audience(lists=(other,)))
    with engine.begin() as conn, pytest.raises(ValueError, match="“Next”"):
        lists.delete_list(conn, workspace, other)


def test_segments_rename_and_delete_protect_drafts(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        first = segments.save(conn, workspace, "Everyone", EVERYONE)
        segments.save(conn, workspace, "Taken", EVERYONE)
        with pytest.raises(ValueError, match="already a segment called Taken"):
            segments.rename(conn, workspace, first, "Taken")
        with pytest.raises(ValueError, match="already a segment called Taken"):
            segments.save(conn, workspace, " Taken ", EVERYONE)
        segments.rename(conn, workspace, first, "All of them")
        _campaign(conn, workspace, "Spring", CampaignState.DRAFT, Audience(segments=(first,)))
    with engine.connect() as conn:
        assert [n for _, n, _ in segments.saved(conn, workspace)] == ["All of them", "Taken"]
    with engine.begin() as conn, pytest.raises(ValueError, match="draft campaign “Spring”"):
        segments.remove(conn, workspace, first)
    with engine.begin() as conn:
        conn.execute(delete(Campaign))
        segments.remove(conn, workspace, first)
    with engine.connect() as conn:
        assert [n for _, n, _ in segments.saved(conn, workspace)] == ["Taken"]
        with pytest.raises(LookupError):
            segments.rename(conn, workspace, first, "Back")


def test_a_duplicate_is_a_draft_with_the_settings_and_none_of_the_results(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        vip = lists.create(conn, workspace, "VIP")
        gone = lists.create(conn, workspace, "Gone")
        seg = segments.save(conn, workspace, "Everyone", EVERYONE)
        _contact(conn, workspace, "a@x.org", lists=[vip])
        source = _campaign(conn, workspace, "Spring sale", CampaignState.COMPLETED,
                           Audience(lists=(vip, gone), segments=(seg,)))  # fmt: skip
        lists.delete_list(conn, workspace, gone)
        copy = campaigns.duplicate(conn, workspace, source)
    with engine.connect() as conn:
        row = campaigns.get(conn, workspace, copy)
        draft = campaigns.draft_of(conn, workspace, copy)
        assert conn.scalar(
            select(func.count()).select_from(CampaignRecipient)
            .where(CampaignRecipient.campaign_id == copy)
        ) == 0  # fmt: skip
        assert campaigns.parts(conn, copy) == []
    assert (row.name, row.state, row.recipients) == ("Spring sale (copy)", "draft", 0)
    assert draft == Draft(
        name="Spring sale (copy)", audience=Audience(lists=(vip,), segments=(seg,)),
        subject="Hi {{ first_name }}", from_address="news@shop.example", html="<p>x</p>",
        text="x", from_name="Shop", reply_to="help@shop.example", throttle_per_minute=600,
        start_at=None, time_zone="Europe/Paris",
    )  # fmt: skip
    assert campaigns.allowed_actions(CampaignState.DRAFT) == frozenset()
    with engine.connect() as conn, pytest.raises(CampaignError, match="only a draft"):
        campaigns.draft_of(conn, workspace, source)


def test_sending_a_draft_replaces_it_once(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        vip = lists.create(conn, workspace, "VIP")
        _contact(conn, workspace, "a@x.org", lists=[vip])
        source = _campaign(conn, workspace, "Spring", CampaignState.COMPLETED,
                           Audience(lists=(vip,)))  # fmt: skip
        copy = campaigns.duplicate(conn, workspace, source)
        agent = conn.scalar(
            insert(Agent).values(workspace_id=workspace, name="A", host="127.0.0.1", port=1,
                                 fingerprint="f", key_ref="k").returning(Agent.id)
        )  # fmt: skip
        draft = campaigns.draft_of(conn, workspace, copy)
    assert agent is not None
    ready = dataclasses.replace(draft, agents=((agent, 1),))
    sent = campaigns.create(engine, workspace, ready, replaces=copy)
    with engine.connect() as conn:
        names = [(c.name, c.state) for c in campaigns.list_campaigns(conn, workspace)]
    assert names == [("Spring (copy)", CampaignState.UPLOADING),
                     ("Spring", CampaignState.COMPLETED)]  # fmt: skip
    assert sent is not None
    with pytest.raises(CampaignError, match="sent or deleted"):
        campaigns.create(engine, workspace, ready, replaces=copy)
    with engine.connect() as conn:
        assert len(campaigns.list_campaigns(conn, workspace)) == 2


def test_a_copy_is_offered_the_agents_the_original_went_through(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        agents = [
            conn.scalar(insert(Agent).values(workspace_id=workspace, name=n, host="127.0.0.1",
                                             port=port, fingerprint="f", key_ref=n)
                        .returning(Agent.id))
            for port, n in enumerate(("Paris", "Oslo", "Rome"), start=1)
        ]  # fmt: skip
        source = _campaign(conn, workspace, "Spring", CampaignState.COMPLETED, Audience())
        for number, (agent, weight, state) in enumerate(
            [(agents[0], 2, PartState.COMPLETED), (agents[1], 1, PartState.MOVED),
             (agents[2], 1, PartState.COMPLETED)]
        ):  # fmt: skip
            conn.execute(insert(CampaignPart).values(
                campaign_id=source, agent_id=agent, weight=weight, state=state.value,
                idempotency_key=f"k{number}"))  # fmt: skip
        # Oslo's recipients were moved to Rome: the copy goes through Paris and Rome.
        assert campaigns.agents_of(conn, workspace, source) == ((agents[0], 2), (agents[2], 1))
