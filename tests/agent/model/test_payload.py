"""The recipient payload codec (pure): what is encoded at enqueue decodes the same in a worker."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from mailfleet.agent.model import payload
from mailfleet.agent.model.payload import Payload, PayloadError


def round_trip(name: str, values: list[str], fields: dict[str, str]) -> Payload:
    decoded = payload.decode(payload.encode(name, values, fields))
    assert decoded == Payload(name, values, fields)
    return decoded


def test_name_values_and_fields_come_back_as_they_went_in() -> None:
    decoded = round_trip("Ada Lovelace", ["Ada", "Paris", "gold"], {"order": "1001"})
    assert decoded.merge_fields(("first", "city", "plan")) == {
        "first": "Ada",
        "city": "Paris",
        "plan": "gold",
        "order": "1001",
    }


@pytest.mark.parametrize(
    "text",
    [
        "Zoë Ångström",
        "山田 太郎",
        "Ольга",
        "😀 astral 𝄞",
        'quotes " and \\ backslashes \\u0041',
        "tab\tnew\nline\rcarriage",
        "NUL \x00 and \x1f",
        "line separator \u2028 paragraph \u2029",
        "</script><!--",
    ],
)
def test_any_unicode_text_survives(text: str) -> None:
    round_trip(text, [text, text], {"f": text})


def test_empty_name_values_and_fields() -> None:
    assert payload.decode(payload.encode()) == Payload("", [], {})
    round_trip("", ["", ""], {"empty": ""})


def test_named_fields_win_over_positional_values_and_extra_values_are_dropped() -> None:
    decoded = round_trip("", ["A", "B", "C"], {"first": "named"})
    assert decoded.merge_fields(("first", "last")) == {"first": "named", "last": "B"}
    assert decoded.merge_fields(("first", "last", "city", "plan")) == {
        "first": "named",
        "last": "B",
        "city": "C",
    }


def test_the_text_form_is_the_bytes_in_utf8_and_is_plain_json() -> None:
    text = payload.encode_text("Zoë", ["a", "b"], {"k": "v"})
    assert payload.encode("Zoë", ["a", "b"], {"k": "v"}) == text.encode("utf-8")
    assert json.loads(text) == ["Zoë", ["a", "b"], {"k": "v"}]
    # Carried as a string inside another JSON document, it comes back unchanged.
    assert json.loads(json.dumps([text]))[0] == text


def test_any_iterable_of_values_and_mapping_of_fields_is_accepted() -> None:
    encoded = payload.encode("", iter(("x", "y")), MappingProxyType({"k": "v"}))
    assert payload.decode(encoded) == Payload("", ["x", "y"], {"k": "v"})


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"EgVIZWxsbw==", "not JSON"),  # an old payload: base64 of protobuf wire bytes
        (b'["a", ["b"]', "not JSON"),
        (b'["a", [], {}] ', "extra data"),
        (b' ["a", [], {}]', "not JSON"),
        (b'["a", [], {}]["b"]', "extra data"),
        (b"null", "array"),
        (b"42", "array"),
        (b'["a", ["b"]]', "array"),
        (b'["a", [], {}, "extra"]', "array"),
        (b'["a", "b", "c"]', "wrong type"),
        (b'{"a": 1, "b": 2, "c": 3}', "wrong type"),
        (b'["a", [1], {}]', "not a string"),
        (b'["a", [], {"k": null}]', "not a string"),
        (b"[1, [], {}]", "wrong type"),
        (b"[" * 100_000, "deeply"),
    ],
)
def test_bad_bytes_raise_a_payload_error_that_says_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(PayloadError, match=says):
        payload.decode(data)
