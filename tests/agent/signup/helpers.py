"""A signup form pushed to a real agent, and a browser-like client of its hosted page."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import aiohttp

from mailfleet.v1 import capture_pb2, common_pb2, signups_pb2
from tests.agent.builders import wait_until
from tests.peers.agent import Stubs


def form_definition(form_id: str, **overrides: object) -> signups_pb2.Form:
    """A German double opt-in form with every field type, a consent box and two lists."""
    fields = [
        signups_pb2.FormField(
            name="first_name", label="Vorname", type=signups_pb2.FIELD_TYPE_TEXT, required=True
        ),
        signups_pb2.FormField(name="age", label="Alter", type=signups_pb2.FIELD_TYPE_NUMBER),
        signups_pb2.FormField(
            name="birthday", label="Geburtstag", type=signups_pb2.FIELD_TYPE_DATE
        ),
        signups_pb2.FormField(name="vip", label="VIP", type=signups_pb2.FIELD_TYPE_CHECKBOX),
        signups_pb2.FormField(
            name="topic",
            label="Thema",
            type=signups_pb2.FIELD_TYPE_CHOICE,
            choices=["Schuhe", "Taschen"],
        ),
    ]
    form = signups_pb2.Form(
        form_id=form_id,
        title="Newsletter",
        description="Neuigkeiten aus dem Laden.",
        lists=[
            signups_pb2.FormList(list_id="news", name="Neuigkeiten"),
            signups_pb2.FormList(list_id="sale", name="Angebote"),
        ],
        fields=fields,
        consent=signups_pb2.ConsentText(text="Ich möchte den Newsletter erhalten.", version="v3"),
        branding=signups_pb2.Branding(
            logo_url="https://shop.example/logo.png", accent_color="#aa3300"
        ),
        language="de",
        confirmation=signups_pb2.ConfirmationMail(
            subject="Bitte bestätigen, {{ first_name }}",
            text="Hallo {{ first_name }}, bitte hier bestätigen: {{ confirm_url }}",
        ),
        sender=common_pb2.Sender(from_address="news@shop.example", from_name="Shop"),
    )
    for name, value in overrides.items():
        setattr(form, name, value)
    return form


class _Inputs(HTMLParser):
    """The hidden time token and the field errors of a form page."""

    def __init__(self) -> None:
        super().__init__()
        self.token = ""
        self.problems: list[str] = []
        self._in_problem = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name") == "t":
            self.token = named.get("value") or ""
        self._in_problem = tag == "p" and named.get("class") == "problem"

    def handle_data(self, data: str) -> None:
        if self._in_problem:
            self.problems.append(data)
            self._in_problem = False


@dataclass
class Page:
    """A page as a browser got it."""

    status: int
    text: str

    @property
    def token(self) -> str:
        """The form's time token."""
        parser = _Inputs()
        parser.feed(self.text)
        return parser.token

    @property
    def problems(self) -> list[str]:
        """The field errors shown."""
        parser = _Inputs()
        parser.feed(self.text)
        return parser.problems


async def get(session: aiohttp.ClientSession, url: str, **headers: str) -> Page:
    """GET a page."""
    async with session.get(url, headers=headers) as reply:
        return Page(reply.status, await reply.text())


async def post(
    session: aiohttp.ClientSession,
    url: str,
    data: list[tuple[str, str]] | None = None,
    **headers: str,
) -> Page:
    """POST a form (url-encoded, as a browser sends it)."""
    async with session.post(url, data=data or [], headers=headers) as reply:
        return Page(reply.status, await reply.text())


def filled(token: str, address: str, **values: str) -> list[tuple[str, str]]:
    """A valid post of :func:`form_definition`'s form, with ``values`` replacing fields."""
    data = {
        "email": address,
        "first_name": "Anna",
        "age": "33",
        "birthday": "1991-04-01",
        "topic": "Schuhe",
        "consent": "1",
        "t": token,
        "website": "",
        **values,
    }
    return [*data.items(), ("list", "news")]


def changes(stubs: Stubs, after: int = 0) -> list[signups_pb2.SignupChange]:
    """Every signup change after ``after``."""
    return list(
        stubs.signups.ListSignupChanges(
            signups_pb2.ListSignupChangesRequest(after_seq=after)
        ).changes
    )


def confirmation_link(stubs: Stubs, address: str) -> str:
    """The confirmation link of the newest confirmation mail to ``address`` in the capture
    mailbox (waiting for it to arrive)."""

    def newest_link() -> str | None:
        listed = stubs.capture.ListCaptured(capture_pb2.ListCapturedRequest(limit=1000)).messages
        for m in sorted((m for m in listed if m.rcpt_to == address), key=lambda m: -m.id):
            item = stubs.capture.GetCaptured(capture_pb2.GetCapturedRequest(captured_id=m.id))
            msg = email.message_from_bytes(item.data, policy=email.policy.default)
            assert isinstance(msg, email.message.EmailMessage)
            body = msg.get_body(("plain",))
            links = re.findall(
                r"https?://\S+/confirm/[0-9a-f]+", body.get_content() if body else ""
            )
            if links:
                return str(links[0])
        return None

    wait_until(lambda: newest_link() is not None, 30, f"the confirmation mail to {address}")
    link = newest_link()
    assert link is not None
    return link
