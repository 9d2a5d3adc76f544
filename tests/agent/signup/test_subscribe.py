"""Subscribe: an app or the desktop's import signs an address up through a form, over gRPC,
with an idempotency key; the confirmation mail and its link work as for the hosted page."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import grpc
import pytest

from mailfleet.v1 import signups_pb2
from tests.agent.signup.helpers import changes, confirmation_link, form_definition, post
from tests.peers.agent import AgentProcess, Stubs


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stubs]:
    proc = AgentProcess(tmp_path_factory.mktemp("subscribe") / "agent")
    proc.start()
    try:
        stubs = proc.stubs()
        stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("shop-form")))
        yield stubs
    finally:
        proc.close()


def _subscribe(stubs: Stubs, key: str, **fields: object) -> signups_pb2.SubscribeResponse:
    request = signups_pb2.SubscribeRequest(
        idempotency_key=key,
        form_id="shop-form",
        email="eva@shop.example",
        ip="198.51.100.4",
        user_agent="shop checkout",
    )
    request.fields["first_name"] = "Eva"
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(request, name).extend(value)
        else:
            setattr(request, name, value)
    return stubs.signups.Subscribe(request)


async def test_a_subscribe_sends_the_confirmation_once_per_key(stubs: Stubs) -> None:
    first = _subscribe(stubs, "order-1")
    assert not first.duplicate
    assert first.signup.status == signups_pb2.SIGNUP_STATUS_PENDING
    assert list(first.signup.lists) == ["news", "sale"]  # none named: all the form's
    assert (first.signup.consent.ip, first.signup.consent.user_agent) == (
        "198.51.100.4",
        "shop checkout",
    )
    again = _subscribe(stubs, "order-1")
    assert again.duplicate and again.signup.signup_id == first.signup.signup_id
    assert [c.signup.signup_id for c in changes(stubs)] == [first.signup.signup_id]

    link = confirmation_link(stubs, "eva@shop.example")
    async with aiohttp.ClientSession() as browser:
        assert (await post(browser, link)).status == 200
    assert changes(stubs)[-1].kind == signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED


def test_skip_confirmation_subscribes_at_once(stubs: Stubs) -> None:
    done = _subscribe(
        stubs, "import-7", email="finn@shop.example", skip_confirmation=True, lists=["sale"]
    )
    assert done.signup.status == signups_pb2.SIGNUP_STATUS_CONFIRMED
    assert list(done.signup.lists) == ["sale"]


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(stubs: Stubs) -> None:
    before = changes(stubs)
    cases: list[tuple[dict[str, object], str]] = [
        ({"email": "no-address"}, "email: Enter a valid email address"),
        ({"lists": ["toys"]}, "lists: Choose at least one list"),
        ({"form_id": "nope"}, "form 'nope' does not exist"),
        ({"idempotency_key": ""}, "idempotency_key: required"),
    ]
    for fields, message in cases:
        with pytest.raises(grpc.RpcError) as caught:
            _subscribe(stubs, "bad", **fields)
        assert (caught.value.details() or "").startswith(message), caught.value.details()
    no_name = signups_pb2.SubscribeRequest(
        idempotency_key="bad-2", form_id="shop-form", email="gus@shop.example"
    )
    with pytest.raises(grpc.RpcError) as caught:
        stubs.signups.Subscribe(no_name)
    assert caught.value.details() == "fields[first_name]: This field is required"
    assert changes(stubs) == before
