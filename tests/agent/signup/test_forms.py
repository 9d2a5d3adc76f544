"""Checking what a visitor posts against the form's fields, and the page strings' catalogue."""

from __future__ import annotations

from mailfleet.agent.pages import catalogue
from mailfleet.agent.signup.forms import FieldType, Form, FormField, FormList, check_submission

FORM = Form(
    form_id="f1",
    title="News",
    lists=(FormList(list_id="news", name="News"),),
    fields=(
        FormField(name="city", label="City", type=FieldType.TEXT, max_length=5),
        FormField(name="terms", label="Terms", type=FieldType.CHECKBOX, required=True),
    ),
    from_address="news@shop.example",
)


def test_a_valid_post_gives_clean_values_and_the_single_list() -> None:
    checked = check_submission(FORM, {"email": " a@b.example ", "city": "Köln", "terms": "1"}, [])
    assert checked.ok
    assert (checked.email, checked.fields, checked.lists) == (
        "a@b.example",
        {"city": "Köln", "terms": "1"},
        ["news"],
    )


def test_each_problem_is_named_by_its_field() -> None:
    checked = check_submission(FORM, {"email": "a@", "city": "Berlin\x01"}, [])
    assert checked.problems == {"email": "bad_email", "city": "invalid", "terms": "required"}
    assert check_submission(FORM, {"email": "a@b.example", "city": "Berlin!"}, []).problems == {
        "city": "too_long",
        "terms": "required",
    }


def test_lists_offered_must_be_chosen_and_only_those() -> None:
    form = FORM.model_copy(
        update={"lists": (FormList(list_id="a", name="A"), FormList(list_id="b", name="B"))}
    )
    base = {"email": "a@b.example", "terms": "1"}
    assert check_submission(form, base, ["b"]).lists == ["b"]
    assert check_submission(form, base, []).problems == {"list": "list_required"}
    assert check_submission(form, base, ["a", "zz"]).problems == {"list": "list_required"}


def test_the_catalogue_has_every_string_in_every_language() -> None:
    assert catalogue.missing() == []
    assert catalogue.text("subscribe", "es") == "Suscribirse"
    assert catalogue.text("subscribe", "xx") == "Subscribe"


def test_accept_language_picks_by_weight_then_order() -> None:
    assert catalogue.pick_language("de;q=0.5, fr;q=0.9") == "fr"
    assert catalogue.pick_language("es, de") == "es"
    assert catalogue.pick_language("es;q=0, ja") == "en"
    assert catalogue.pick_language("") == "en"
