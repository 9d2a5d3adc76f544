"""Signups in the store: pending until confirmed within the link's time, expired by retention,
and each change logged once for the desktop's cursor."""

from __future__ import annotations

import secrets
import sqlite3

from mailfleet.agent.feedback.tokens import TokenKey
from mailfleet.agent.signup.forms import Form, FormList
from mailfleet.agent.signup.record import Clock, Outcome, confirm, sign_up
from mailfleet.agent.store import messages, signups
from mailfleet.agent.store.signups import ChangeKind, NewSignup, SignupState, Visitor

NOW = 1_800_000_000.0
HOUR = 3600.0
FORM = Form(
    form_id="f1",
    title="News",
    lists=(FormList(list_id="news", name="News"),),
    from_address="news@shop.example",
)
KEY = TokenKey(secrets.token_bytes(32))
VISITOR = Visitor("192.0.2.7", "Firefox")


def _sign_up(conn: sqlite3.Connection, address: str, cap: int = 100, now: float = NOW) -> Outcome:
    stored = signups.put_form(conn, 1, FORM.form_id, FORM.model_dump_json(), NOW)
    new = NewSignup(1, stored.row_id, address, {}, ["news"], "en", "Yes", "v1", VISITOR)
    clock = Clock(now, 72 * HOUR, resend_seconds=HOUR)
    return sign_up(conn, FORM, new, KEY, "http://x/f/f1/confirm/", cap, clock)[0]


def _confirmation_mails(conn: sqlite3.Connection) -> int:
    return len(messages.list_(conn, 1, None, None, 0, 1000))


def test_an_unconfirmed_signup_expires_and_its_link_then_confirms_nothing(
    conn: sqlite3.Connection,
) -> None:
    assert _sign_up(conn, "a@shop.example") is Outcome.PENDING
    (signed_up,) = signups.list_changes(conn, 1, 0, 100)
    assert signups.expire_pending(conn, NOW + 71 * HOUR, 100) == 0
    assert signups.expire_pending(conn, NOW + 73 * HOUR, 100) == 1
    assert signups.expire_pending(conn, NOW + 74 * HOUR, 100) == 0
    (expired,) = signups.list_changes(conn, 1, signed_up.seq, 100)
    assert expired.kind is ChangeKind.EXPIRED and expired.signup.state is SignupState.EXPIRED
    outcome, _ = confirm(conn, signed_up.signup.signup_id, VISITOR, NOW + 74 * HOUR)
    assert outcome is Outcome.EXPIRED
    assert signups.list_changes(conn, 1, expired.seq, 100) == []


def test_a_link_past_its_time_confirms_nothing_before_retention_runs(
    conn: sqlite3.Connection,
) -> None:
    _sign_up(conn, "a@shop.example")
    (signed_up,) = signups.list_changes(conn, 1, 0, 100)
    late, _ = confirm(conn, signed_up.signup.signup_id, VISITOR, NOW + 73 * HOUR)
    assert late is Outcome.EXPIRED
    in_time, _ = confirm(conn, signed_up.signup.signup_id, VISITOR, NOW + 71 * HOUR)
    assert in_time is Outcome.CONFIRMED
    again, _ = confirm(conn, signed_up.signup.signup_id, VISITOR, NOW + 71 * HOUR)
    assert again is Outcome.ALREADY
    kinds = [c.kind for c in signups.list_changes(conn, 1, 0, 100)]
    assert kinds == [ChangeKind.SIGNED_UP, ChangeKind.CONFIRMED]


def test_the_daily_cap_stores_nothing_past_it_and_changes_stay_per_tenant(
    conn: sqlite3.Connection,
) -> None:
    assert [_sign_up(conn, f"p{i}@shop.example", cap=2) for i in range(3)] == [
        Outcome.PENDING,
        Outcome.PENDING,
        Outcome.CAPPED,
    ]
    assert len(signups.list_changes(conn, 1, 0, 100)) == 2
    assert signups.list_changes(conn, 2, 0, 100) == []
    (form,) = signups.list_forms(conn, 1, NOW)
    assert form.signups_today == 2


def test_an_address_gets_one_confirmation_mail_per_form_and_hour(
    conn: sqlite3.Connection,
) -> None:
    assert _sign_up(conn, "a@shop.example") is Outcome.PENDING
    for minutes in (1, 30, 59):  # someone typing a victim's address again and again
        assert _sign_up(conn, "A@shop.example", now=NOW + minutes * 60) is Outcome.PENDING
    assert _confirmation_mails(conn) == 1
    assert len(signups.list_changes(conn, 1, 0, 100)) == 1
    assert _sign_up(conn, "b@shop.example", now=NOW + 60) is Outcome.PENDING
    assert _sign_up(conn, "a@shop.example", now=NOW + 61 * 60) is Outcome.PENDING
    assert _confirmation_mails(conn) == 3


def test_an_expired_signup_is_deleted_a_window_later_and_a_confirmed_one_stays(
    conn: sqlite3.Connection,
) -> None:
    for address in ("gone1@shop.example", "gone2@shop.example", "kept@shop.example"):
        _sign_up(conn, address)
    gone1, gone2, kept = (c.signup for c in signups.list_changes(conn, 1, 0, 100))
    assert confirm(conn, kept.signup_id, VISITOR, NOW + HOUR)[0] is Outcome.CONFIRMED
    assert signups.expire_pending(conn, NOW + 73 * HOUR, 100) == 2
    # retention passes ``now`` less the window; the links expired at NOW + 72 hours
    expiry = NOW + 72 * HOUR
    assert signups.delete_expired(conn, expiry - HOUR, 100) == 0
    assert signups.get(conn, gone1.signup_id) is not None
    # in batches of the limit asked for
    assert signups.delete_expired(conn, expiry + HOUR, 1) == 1
    assert signups.delete_expired(conn, expiry + HOUR, 1) == 1
    assert signups.delete_expired(conn, expiry + HOUR, 1) == 0
    assert signups.get(conn, gone1.signup_id) is None and signups.get(conn, gone2.signup_id) is None
    ips = conn.execute("SELECT signup_id FROM consents WHERE ip = ?", (VISITOR.ip,)).fetchall()
    assert ips == [(kept.signup_id,)]
    left = signups.list_changes(conn, 1, 0, 100)
    assert [(c.kind, c.signup.email) for c in left] == [
        (ChangeKind.SIGNED_UP, "kept@shop.example"),
        (ChangeKind.CONFIRMED, "kept@shop.example"),
    ]
    assert conn.execute("SELECT count(*) FROM signup_changes").fetchone() == (2,)
    proof = signups.get(conn, kept.signup_id)
    assert proof is not None and proof.state is SignupState.CONFIRMED
    assert proof.consent.confirmed_at == NOW + HOUR and proof.consent.ip == VISITOR.ip
