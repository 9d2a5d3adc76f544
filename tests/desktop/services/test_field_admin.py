"""The field manager's logic: usage, rename, type change and delete, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, insert, select

from mailfleet.desktop.db.models import Campaign, CampaignState, Contact, ContactStatus, FieldType
from mailfleet.desktop.services import field_admin, segments, templates
from mailfleet.desktop.services.contacts import create_contact
from mailfleet.desktop.services.fields import create_field, find_field, list_fields


def _add(conn: Connection, ws: int, email: str, **values: object) -> int:
    return create_contact(conn, ws, email=email, first_name="", last_name="",
                          status=ContactStatus.SUBSCRIBED, fields=dict(values),
                          lists=[])  # fmt: skip


@pytest.fixture
def seeded(engine: Engine, workspace: int) -> tuple[Engine, int]:
    """A text field "Plan" used by three contacts, a segment and a template; a number field."""
    with engine.begin() as conn:
        create_field(conn, workspace, "Plan", FieldType.TEXT)
        create_field(conn, workspace, "Score", FieldType.NUMBER)
        _add(conn, workspace, "ann@a.org", plan="12", score=3.0)
        _add(conn, workspace, "bob@b.org", plan="gold")
        _add(conn, workspace, "cy@c.org", plan="7.5", score=1.0)
        _add(conn, workspace, "di@d.org")
        rules = {"match": "all", "rules": [
            {"field": "email", "op": "contains", "value": "a"},
            {"match": "any", "rules": [{"field": "field:plan", "op": "is_not_empty",
                                        "value": None}]},
        ]}  # fmt: skip
        segments.save(conn, workspace, "Has a plan", rules)
        segments.save(conn, workspace, "Scored", {"match": "all", "rules": [
            {"field": "field:score", "op": ">", "value": "1"}]})  # fmt: skip
        templates.save(
            conn,
            workspace,
            "Welcome",
            "Your {{ plan }} plan",
            "<p>{% if plan %}{{ plan|upper }}{% endif %} {{ x.plan }}</p>",
            "plan",
        )
        templates.save(conn, workspace, "Plain", "Hello", "<p>Hi {{ first_name }}</p>", "")
    return engine, workspace


def _values(conn: Connection, ws: int) -> dict[str, dict[str, object]]:
    rows = conn.execute(select(Contact.email, Contact.fields).where(Contact.workspace_id == ws))
    return {email: dict(values) for email, values in rows}


def test_usage_counts_values_and_names_segments_and_templates(
    seeded: tuple[Engine, int],
) -> None:
    engine, ws = seeded
    with engine.connect() as conn:
        found = field_admin.usage(conn, ws, "plan")
    assert found == field_admin.FieldUsage(3, ("Has a plan",), ("Welcome",))


def test_rename_moves_values_segment_rules_and_merge_tags(seeded: tuple[Engine, int]) -> None:
    engine, ws = seeded
    with engine.begin() as conn:
        spec = field_admin.rename_field(conn, ws, "plan", "Tier")
    assert (spec.key, spec.label, spec.type) == ("tier", "Tier", FieldType.TEXT)
    with engine.connect() as conn:
        assert [f.key for f in list_fields(conn, ws)] == ["tier", "score"]
        values = _values(conn, ws)
        assert values["ann@a.org"] == {"tier": "12", "score": 3.0}
        assert values["bob@b.org"] == {"tier": "gold"}
        assert values["di@d.org"] == {}
        saved = {name: rules for _, name, rules in segments.saved(conn, ws)}
        assert saved["Has a plan"]["rules"][1]["rules"][0]["field"] == "field:tier"
        assert segments.count(conn, ws, saved["Has a plan"]) == 1  # ann: has an "a", a tier
        welcome = next(t for t in templates.list_templates(conn, ws) if t.name == "Welcome")
        assert welcome.subject == "Your {{ tier }} plan"
        # The attribute x.plan is not the field and stays; the literal text "plan" too.
        assert welcome.html == "<p>{% if tier %}{{ tier|upper }}{% endif %} {{ x.plan }}</p>"
        assert welcome.text == "plan"
        assert field_admin.usage(conn, ws, "tier").contacts == 3


def test_rename_follows_into_drafts_but_not_into_sent_campaigns(
    seeded: tuple[Engine, int],
) -> None:
    engine, ws = seeded
    with engine.begin() as conn:
        for name, state in (("Next", CampaignState.DRAFT), ("Past", CampaignState.COMPLETED)):
            conn.execute(insert(Campaign).values(
                workspace_id=ws, name=name, state=state.value, audience={}, key_prefix=name,
                subject="{{ plan }}", html="<b>{{ plan }}</b>", text="", from_address="a@b.org",
            ))  # fmt: skip
        field_admin.rename_field(conn, ws, "plan", "Tier")
        found = dict(conn.execute(select(Campaign.name, Campaign.html)).all())
    assert found == {"Next": "<b>{{ tier }}</b>", "Past": "<b>{{ plan }}</b>"}


def test_rename_to_a_taken_or_built_in_name_is_refused(seeded: tuple[Engine, int]) -> None:
    engine, ws = seeded
    for label in ("Score", "First name", "Email"):
        with engine.begin() as conn, pytest.raises(ValueError):
            field_admin.rename_field(conn, ws, "plan", label)
    with engine.begin() as conn:  # a new label with the same key only relabels
        assert field_admin.rename_field(conn, ws, "plan", "PLAN").key == "plan"
        assert find_field(conn, ws, "plan") is not None


def test_retype_reports_what_will_not_convert_then_empties_it(
    seeded: tuple[Engine, int],
) -> None:
    engine, ws = seeded
    with engine.connect() as conn:
        plan = field_admin.plan_retype(conn, ws, "plan", FieldType.NUMBER)
    # "Has a plan" only asks is_not_empty, which a number field has too.
    assert plan == field_admin.RetypePlan(2, 1, ("gold",), ())
    with engine.begin() as conn:
        assert field_admin.retype_field(conn, ws, "plan", FieldType.NUMBER) == 1
    with engine.connect() as conn:
        values = _values(conn, ws)
        assert values["ann@a.org"]["plan"] == 12.0
        assert values["cy@c.org"]["plan"] == 7.5
        assert "plan" not in values["bob@b.org"]
        assert find_field(conn, ws, "plan").type is FieldType.NUMBER  # type: ignore[union-attr]
        rule = {"field": "field:plan", "op": ">", "value": "10"}
        assert segments.count(conn, ws, {"match": "all", "rules": [rule]}) == 1


def test_retype_is_refused_while_a_segment_rule_does_not_fit(
    seeded: tuple[Engine, int],
) -> None:
    engine, ws = seeded
    with engine.connect() as conn:
        plan = field_admin.plan_retype(conn, ws, "score", FieldType.TEXT)
    assert (plan.converted, plan.failed, plan.blocking_segments) == (2, 0, ("Scored",))
    with engine.begin() as conn, pytest.raises(ValueError, match="Scored"):
        field_admin.retype_field(conn, ws, "score", FieldType.TEXT)
    with engine.connect() as conn:
        assert find_field(conn, ws, "score").type is FieldType.NUMBER  # type: ignore[union-attr]
        assert _values(conn, ws)["ann@a.org"]["score"] == 3.0


def test_number_to_text_and_yes_no_keep_what_a_person_typed(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn:
        create_field(conn, workspace, "Vip", FieldType.BOOLEAN)
        create_field(conn, workspace, "Visits", FieldType.NUMBER)
        _add(conn, workspace, "a@a.org", vip=True, visits=4.0)
        _add(conn, workspace, "b@b.org", vip=False, visits=2.5)
        field_admin.retype_field(conn, workspace, "vip", FieldType.TEXT)
        field_admin.retype_field(conn, workspace, "visits", FieldType.TEXT)
    with engine.connect() as conn:
        values = _values(conn, workspace)
    assert values["a@a.org"] == {"vip": "yes", "visits": "4"}
    assert values["b@b.org"] == {"vip": "no", "visits": "2.5"}


def test_delete_removes_definition_and_values_only(seeded: tuple[Engine, int]) -> None:
    engine, ws = seeded
    with engine.begin() as conn:
        assert field_admin.delete_field(conn, ws, "plan") == 3
    with engine.connect() as conn:
        assert [f.key for f in list_fields(conn, ws)] == ["score"]
        values = _values(conn, ws)
        assert values["ann@a.org"] == {"score": 3.0}
        assert values["bob@b.org"] == {}
        assert len(values) == 4  # nobody deleted
        with pytest.raises(LookupError):
            field_admin.usage(conn, ws, "plan")


def test_rename_tag_leaves_broken_templates_alone() -> None:
    assert templates.rename_tag("{{ plan ", "plan", "tier") == "{{ plan "
    assert templates.rename_tag("{{plan}} {{ plans }}", "plan", "tier") == "{{tier}} {{ plans }}"
