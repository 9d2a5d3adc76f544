"""Audience: an app signs people up (with and without double opt-in), sets their fields,
unsubscribes them and asks where they stand, on a real agent over gRPC; every change reaches
the signup changes log the desktop follows, once per idempotency key."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import aiohttp
import grpc
import pytest

from mailfleet.v1 import audience_pb2, events_pb2, signups_pb2, suppression_pb2
from tests.agent.signup.helpers import changes, confirmation_link, form_definition, post
from tests.peers.agent import AgentProcess, Stubs

A = audience_pb2


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stubs]:
    proc = AgentProcess(tmp_path_factory.mktemp("audience") / "agent")
    proc.start()
    try:
        stubs = proc.stubs()
        stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form_definition("shop-form")))
        yield stubs
    finally:
        proc.close()


def _subscribe(
    stubs: Stubs, key: str, email: str, *, skip: bool = False
) -> signups_pb2.SubscribeResponse:
    request = signups_pb2.SubscribeRequest(
        idempotency_key=key,
        form_id="shop-form",
        email=email,
        fields={"first_name": "Eva"},
        skip_confirmation=skip,
        user_agent="shop checkout",
    )
    return stubs.audience.Subscribe(request)


def _contact(stubs: Stubs, email: str) -> audience_pb2.Contact:
    return stubs.audience.GetContact(A.GetContactRequest(email=email))


def _update(stubs: Stubs, key: str, email: str, **fields: str) -> A.UpdateContactResponse:
    return stubs.audience.UpdateContact(
        A.UpdateContactRequest(idempotency_key=key, email=email, fields=fields)
    )


def _unsubscribe(stubs: Stubs, key: str, email: str, list_id: str = "") -> A.UnsubscribeResponse:
    return stubs.audience.Unsubscribe(
        A.UnsubscribeRequest(idempotency_key=key, email=email, list_id=list_id)
    )


async def test_a_double_opt_in_signup_is_pending_until_the_link_is_confirmed(
    stubs: Stubs,
) -> None:
    done = _subscribe(stubs, "order-1", "eva@shop.example")
    assert done.signup.status == signups_pb2.SIGNUP_STATUS_PENDING
    pending = _contact(stubs, "Eva@Shop.example")  # any spelling of the mailbox
    assert pending.status == A.CONTACT_STATUS_PENDING
    assert (list(pending.lists), list(pending.pending_lists)) == ([], ["news", "sale"])
    assert pending.fields["first_name"] == "Eva"
    assert [s.signup_id for s in pending.signups] == [done.signup.signup_id]

    assert _subscribe(stubs, "order-1", "eva@shop.example").duplicate
    async with aiohttp.ClientSession() as browser:
        assert (await post(browser, confirmation_link(stubs, "eva@shop.example"))).status == 200
    confirmed = _contact(stubs, "eva@shop.example")
    assert confirmed.status == A.CONTACT_STATUS_CONFIRMED
    assert (list(confirmed.lists), list(confirmed.pending_lists)) == (["news", "sale"], [])
    mine = [c for c in changes(stubs) if c.signup.signup_id == done.signup.signup_id]
    assert [c.kind for c in mine] == [
        signups_pb2.SIGNUP_CHANGE_KIND_SIGNED_UP,
        signups_pb2.SIGNUP_CHANGE_KIND_CONFIRMED,
    ]


def test_fields_and_unsubscribes_reach_the_changes_log_once_per_key(stubs: Stubs) -> None:
    address = "finn@shop.example"
    made = _subscribe(stubs, "import-finn", address, skip=True)
    assert made.signup.status == signups_pb2.SIGNUP_STATUS_CONFIRMED
    after = changes(stubs)[-1].seq

    updated = _update(stubs, "crm-1", address, first_name="Finnegan", shoe_size="44")
    assert not updated.duplicate
    # over what the signup gave (the form's other fields, empty)
    assert updated.contact.fields["first_name"] == "Finnegan"
    assert updated.contact.fields["shoe_size"] == "44"
    assert _update(stubs, "crm-1", address, first_name="Other").duplicate
    assert _contact(stubs, address).fields["first_name"] == "Finnegan"

    left = _unsubscribe(stubs, "leave-sale", address, "sale")
    assert left.contact.status == A.CONTACT_STATUS_CONFIRMED
    assert (list(left.contact.lists), list(left.contact.left_lists)) == (["news"], ["sale"])
    assert _unsubscribe(stubs, "leave-sale", address, "sale").duplicate
    gone = _unsubscribe(stubs, "leave-all", address)
    assert gone.contact.status == A.CONTACT_STATUS_UNSUBSCRIBED and not gone.contact.lists

    logged = changes(stubs, after)
    assert [(c.kind, c.email, dict(c.fields), list(c.lists)) for c in logged] == [
        (
            signups_pb2.SIGNUP_CHANGE_KIND_FIELDS_UPDATED,
            address,
            {"first_name": "Finnegan", "shoe_size": "44"},
            [],
        ),
        (signups_pb2.SIGNUP_CHANGE_KIND_UNSUBSCRIBED, address, {}, ["sale"]),
        (signups_pb2.SIGNUP_CHANGE_KIND_UNSUBSCRIBED, address, {}, []),
    ]
    assert not any(c.HasField("signup") for c in logged)
    # The suppressions the sending screens by, and the events webhooks and the desktop follow.
    status = stubs.suppression.CheckSuppressions(
        suppression_pb2.CheckSuppressionsRequest(emails=[address])
    ).statuses[0]
    assert sorted((e.scope, e.source) for e in status.entries) == [
        ("", "api"),
        ("list:sale", "api"),
    ]
    events = stubs.events.ListEvents(events_pb2.ListEventsRequest(limit=1000)).events
    unsubscribed = [
        e.attrs.get("scope", "")
        for e in events
        if e.type == events_pb2.EVENT_TYPE_MESSAGE_UNSUBSCRIBED and e.email == address
    ]
    assert unsubscribed == ["list:sale", ""]


def test_an_address_the_agent_does_not_know_and_one_suppressed(stubs: Stubs) -> None:
    unknown = _contact(stubs, "nobody@shop.example")
    assert unknown.status == A.CONTACT_STATUS_UNKNOWN
    assert not unknown.lists and not unknown.signups and not unknown.fields
    stubs.suppression.AddSuppressions(
        suppression_pb2.AddSuppressionsRequest(
            entries=[
                suppression_pb2.SuppressionEntry(
                    email="bounced@shop.example", reason=suppression_pb2.SUPPRESSION_REASON_MANUAL
                )
            ]
        )
    )
    _subscribe(stubs, "order-bounced", "bounced@shop.example", skip=True)
    assert _contact(stubs, "bounced@shop.example").status == A.CONTACT_STATUS_SUPPRESSED


def test_bad_input_is_refused_naming_the_field_and_nothing_is_logged(stubs: Stubs) -> None:
    _subscribe(stubs, "order-gus", "gus@shop.example")
    before = changes(stubs)
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: _update(stubs, "k1", "not-an-address", a="1"), "email: 'not-an-address' is not"),
        (lambda: _update(stubs, "k2", "gus@shop.example"), "fields: required"),
        (lambda: _update(stubs, "k3", "gus@shop.example", **{"1x": "a"}), "fields[1x]: not a"),
        (lambda: _update(stubs, "", "gus@shop.example", a="1"), "idempotency_key: required"),
        (lambda: _unsubscribe(stubs, "k4", ""), "email: required"),
        (lambda: _unsubscribe(stubs, "k5", "gus@shop.example", "a\nb"), "list_id: must not"),
        # a key names one call: a signup's key is no unsubscribe's
        (lambda: _unsubscribe(stubs, "order-gus", "gus@shop.example"), "idempotency_key: alre"),
        (lambda: _contact(stubs, "nope"), "email: 'nope' is not a valid email address"),
    ]
    for call, message in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (caught.value.details() or "").startswith(message), caught.value.details()
    _update(stubs, "crm-gus", "gus@shop.example", a="1")
    with pytest.raises(grpc.RpcError) as caught:
        _subscribe(stubs, "crm-gus", "gus@shop.example")
    assert (
        caught.value.details() == "idempotency_key: already used by another call; choose a new key"
    )
    assert len(changes(stubs)) == len(before) + 1
