"""The renderer's output, parsed back with the stdlib's strict-enough parser."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator, Mapping
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from email.policy import default
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from mailfleet.agent.model import Content, Sender
from mailfleet.agent.render import limits
from mailfleet.agent.render.limits import keep_handler
from mailfleet.agent.render.message import Renderer, RenderError
from mailfleet.agent.render.templates import compile_template

SENDER = Sender("news@shop.example", "Shop News", "help@shop.example")
CONTENT = Content(
    subject="Hello {{ name }}, your {{ plan }} plan",
    html="<p>Dear {{ name }}, {{ plan }} for "
    "<a href='https://shop.example/u?e={{ email }}'>you</a></p>",
    text="Dear {{ name }}, {{ plan }} for you.\nBye\n",
)


@pytest.fixture
def renderer() -> Renderer:
    """A renderer with generous caps."""
    return Renderer("mx.test.example", timeout_seconds=2.0, max_bytes=1_000_000)


def render(
    renderer: Renderer,
    content: Content = CONTENT,
    *,
    to_name: str = "Ann",
    to_email: str = "ann@example.com",
    fields: Mapping[str, str] | None = None,
    sender: Sender = SENDER,
    extra_headers: Mapping[str, str] | None = None,
) -> bytes:
    """Render one message for Ann with a gold plan unless told otherwise."""
    return renderer.render(
        message_id=42,
        sender=sender,
        content=content,
        to_email=to_email,
        to_name=to_name,
        fields={"plan": "gold"} if fields is None else fields,
        extra_headers=extra_headers or {},
    )


def parse(raw: bytes) -> EmailMessage:
    """The message as the stdlib reads it."""
    parsed = BytesParser(policy=default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def bodies(msg: EmailMessage) -> dict[str, str]:
    """Decoded text of each leaf part by content type, line ends normalised."""
    out = {}
    for part in msg.walk():
        if not part.is_multipart():
            assert part.get_content_charset() == "utf-8"
            assert isinstance(part, EmailMessage)
            out[part.get_content_type()] = part.get_content().replace("\r\n", "\n")
    return out


def display_name(msg: EmailMessage, field: str) -> str:
    """The display name of a one-address field, decoded per RFC 2047.

    Encoded words are decoded with ``email.header`` rather than the address parser, which
    keeps the folding space between adjacent encoded words (a CPython bug: it does not
    round-trip its own output either), where RFC 2047 section 6.2 says to drop it.
    """
    raw = next(value for name, value in msg.raw_items() if name.lower() == field.lower())
    phrase = re.sub(r"\r?\n", "", raw).rsplit(" <", 1)[0].strip()
    if phrase.startswith("=?"):
        return str(make_header(decode_header(phrase)))
    name: str = msg[field].addresses[0].display_name
    return name


def lines(raw: bytes) -> list[bytes]:
    """The message's lines; also checks that every line ends with CRLF."""
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    return raw.split(b"\r\n")[:-1]


def test_multipart_alternative_with_every_header(renderer: Renderer) -> None:
    raw = render(renderer)
    msg = parse(raw)
    assert msg["From"] == "Shop News <news@shop.example>"
    assert msg["To"] == "Ann <ann@example.com>"
    assert msg["Reply-To"] == "help@shop.example"
    assert msg["Subject"] == "Hello Ann, your gold plan"
    assert msg["MIME-Version"] == "1.0"
    assert re.fullmatch(r"<42\.[0-9a-f]{16}@mx\.test\.example>", msg["Message-ID"])
    assert parsedate_to_datetime(msg["Date"]).utcoffset() is not None
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert bodies(msg) == {
        "text/plain": "Dear Ann, gold for you.\nBye\n",
        "text/html": "<p>Dear Ann, gold for "
        "<a href='https://shop.example/u?e=ann@example.com'>you</a></p>\n",
    }
    assert all(len(line) <= 78 for line in lines(raw))


def test_each_message_gets_its_own_message_id(renderer: Renderer) -> None:
    first, second = parse(render(renderer)), parse(render(renderer))
    assert first["Message-ID"] != second["Message-ID"]


def test_html_is_escaped_and_text_is_not(renderer: Renderer) -> None:
    msg = parse(render(renderer, fields={"plan": "<b>gold</b> & co"}))
    got = bodies(msg)
    assert "&lt;b&gt;gold&lt;/b&gt; &amp; co" in got["text/html"]
    assert "<b>gold</b> & co" in got["text/plain"]
    assert msg["Subject"] == "Hello Ann, your <b>gold</b> & co plan"


def test_text_part_is_derived_from_html_without_a_text_template(renderer: Renderer) -> None:
    content = Content(subject="s", html=CONTENT.html)
    got = bodies(parse(render(renderer, content)))
    assert (
        got["text/plain"] == "Dear Ann, gold for you (https://shop.example/u?e=ann@example.com)\n"
    )


def test_text_only_is_a_single_text_part(renderer: Renderer) -> None:
    msg = parse(render(renderer, Content(subject="s", text="Hi {{ name }}")))
    assert msg.get_content_type() == "text/plain"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert bodies(msg) == {"text/plain": "Hi Ann\n"}


def test_merge_variables_are_fields_email_and_name(renderer: Renderer) -> None:
    content = Content(subject="{{ name }}|{{ email }}|{{ city }}", text="x")
    fields = {"city": "Lyon", "name": "not the recipient's", "email": "not@this"}
    assert parse(render(renderer, content, fields=fields))["Subject"] == (
        "Ann|ann@example.com|Lyon"
    )


@pytest.mark.parametrize(
    ("subject", "from_name", "to_name"),
    [
        ("Grüße aus Köln — 20 % Rabatt 🎉", "Bäckerei Müller", "Zoë Ñúñez"),
        ("Привет, " * 20, "Магазин «Весна»", "Анна Каренина " * 6),
        ("=?utf-8?q?not_an_encoded_word?=", "=?x?", 'Mr. O\'Brien, Jr. "Bob" \\o/'),
        ("word " * 60, "a" * 90, "plain"),
        ("s", "Dr. Who, Esq. " * 12, 'The "Doctor" (Time Lord), ' * 8),
    ],
)
def test_headers_round_trip_through_rfc_2047(
    renderer: Renderer, subject: str, from_name: str, to_name: str
) -> None:
    content = Content(subject="{{ subject }}", text="body")
    sender = Sender("news@shop.example", from_name)
    raw = render(renderer, content, sender=sender, to_name=to_name, fields={"subject": subject})
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(len(line) <= 998 for line in lines(raw))
    msg = parse(raw)
    assert msg["Subject"] == subject
    assert display_name(msg, "From") == from_name
    assert msg["From"].addresses[0].addr_spec == "news@shop.example"
    assert display_name(msg, "To") == to_name
    assert msg["To"].addresses[0].addr_spec == "ann@example.com"


def test_idn_domains_are_punycoded_and_utf8_local_parts_written_as_utf8(
    renderer: Renderer,
) -> None:
    raw = render(renderer, to_email="ann@bücher.example")
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()
    assert parse(raw)["To"].addresses[0].addr_spec == "ann@xn--bcher-kva.example"
    # RFC 6532: the header carries the UTF-8 local part as it is; only the address is 8-bit.
    raw = render(renderer, to_email="émilie.çava@exämple.com", to_name="Émilie")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert "To: =?utf-8?b?w4ltaWxpZQ==?= <émilie.çava@xn--exmple-cua.com>".encode() in head
    assert head.replace("émilie.çava".encode(), b"").isascii()
    parsed = Parser(policy=default).parsestr(raw.decode())  # a UTF-8 header is read as text
    assert parsed["To"].addresses[0].addr_spec == "émilie.çava@xn--exmple-cua.com"
    for bad in ("é milie@example.com", "é..a@example.com", 'é"a@example.com', "é@ex ample.com"):
        with pytest.raises(RenderError, match="invalid address"):
            render(renderer, to_email=bad)


@pytest.mark.parametrize(
    "evil", ["x\r\nBcc: victim@example.net", "x\nBcc: v@e.net", "x\rY", "x\0y"]
)
def test_merge_values_cannot_add_headers(renderer: Renderer, evil: str) -> None:
    with pytest.raises(RenderError, match="line break or NUL"):
        render(renderer, fields={"plan": evil})
    with pytest.raises(RenderError, match="line break or NUL"):
        render(renderer, to_name=evil)
    with pytest.raises(RenderError, match="line break or NUL"):
        render(renderer, to_name="Zoë " + evil)
    with pytest.raises(RenderError, match="line break or NUL"):
        render(renderer, sender=Sender("news@shop.example", evil))
    with pytest.raises(RenderError):
        render(renderer, to_email=f"ann@example.com{evil}")
    with pytest.raises(RenderError, match="line break or NUL"):
        render(renderer, extra_headers={"X-Plan": "{{ plan }}"}, fields={"plan": evil})
    # The renderer is unharmed: the next message is whole.
    assert parse(render(renderer))["Subject"] == "Hello Ann, your gold plan"


def test_merge_values_in_bodies_may_carry_line_breaks(renderer: Renderer) -> None:
    content = Content(subject="s", text="{{ plan }}")
    got = bodies(parse(render(renderer, content, fields={"plan": "a\r\nBcc: x\nb"})))
    assert got == {"text/plain": "a\nBcc: x\nb\n"}


def test_extra_headers_are_templates_and_replace_content_headers(renderer: Renderer) -> None:
    content = Content(
        subject="s",
        text="t",
        headers={"X-Campaign": "spring-{{ plan }}", "list-unsubscribe": "<mailto:old@x>"},
    )
    extra = {"List-Unsubscribe": "<https://shop.example/u/{{ email }}>"}
    msg = parse(render(renderer, content, extra_headers=extra))
    assert msg["X-Campaign"] == "spring-gold"
    assert msg.get_all("List-Unsubscribe") == ["<https://shop.example/u/ann@example.com>"]


@pytest.mark.parametrize("name", ["Content-Type", "from", "Bad Name", "X:Y", "Ünï"])
def test_extra_headers_cannot_replace_own_headers_or_break_syntax(
    renderer: Renderer, name: str
) -> None:
    with pytest.raises(RenderError):
        render(renderer, extra_headers={name: "v"})


def test_mostly_non_ascii_bodies_are_base64_with_short_lines(renderer: Renderer) -> None:
    text = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 40
    raw = render(renderer, Content(subject="s", text=text))
    msg = parse(raw)
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert bodies(msg) == {"text/plain": text + "\n"}
    assert max(len(line) for line in lines(raw)) <= 78


def test_long_lines_are_quoted_printable_soft_broken(renderer: Renderer) -> None:
    html = "<p>" + "x=1 " * 2000 + "é</p>"
    raw = render(renderer, Content(subject="s", html=html, text="t"))
    assert max(len(line) for line in lines(raw)) <= 78
    assert bodies(parse(raw))["text/html"] == html + "\n"


def test_template_runtime_errors_fail_only_that_message(renderer: Renderer) -> None:
    for source in ["{{ 1 / 0 }}", "{{ name.__class__.__mro__ }}", "{{ x.y.z() }}"]:
        with pytest.raises(RenderError, match="template error"):
            render(renderer, Content(subject="s", text=source))
    with pytest.raises(RenderError, match="does not compile"):
        render(renderer, Content(subject="{% if %}", text="t"))
    assert parse(render(renderer))["Subject"] == "Hello Ann, your gold plan"


def test_a_template_that_loops_forever_is_stopped_by_the_time_cap() -> None:
    renderer = Renderer("mx.test.example", timeout_seconds=0.2, max_bytes=1_000_000)
    forever = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(RenderError, match=r"longer than 0\.2 s"):
        render(renderer, Content(subject="s", text=forever))
    assert signal.getsignal(signal.SIGALRM) is before
    assert parse(render(renderer))["Subject"] == "Hello Ann, your gold plan"


def test_the_time_cap_works_with_its_handler_kept_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker installs the handler once; each render then only arms and disarms the timer.
    monkeypatch.setattr(limits, "_kept", False)  # put back afterwards, for the other tests
    renderer = Renderer("mx.test.example", timeout_seconds=0.2, max_bytes=1_000_000)
    forever = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    previous = signal.getsignal(signal.SIGALRM)
    keep_handler()
    installed = signal.getsignal(signal.SIGALRM)
    try:
        with pytest.raises(RenderError, match=r"longer than 0\.2 s"):
            render(renderer, Content(subject="s", text=forever))
        assert parse(render(renderer))["Subject"] == "Hello Ann, your gold plan"
        assert signal.getsignal(signal.SIGALRM) is installed
        # The cap is not left armed (an outer timer, such as pytest-timeout's, may run on).
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert not 0.0 < remaining <= 0.2
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_an_outer_timer_survives_a_render(renderer: Renderer) -> None:
    fired: list[int] = []

    def outer(signum: int, frame: Any) -> None:
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    saved = signal.setitimer(signal.ITIMER_REAL, 60.0)
    try:
        render(renderer)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 55.0 < remaining <= 60.0
        assert signal.getsignal(signal.SIGALRM) is outer
        assert not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, *saved)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    "bomb",
    [
        '{% for i in range(100000) %}{{ "x" * 100000 }}{% endfor %}',
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ name }}"
        "{% endfor %}{% endfor %}",
    ],
)
def test_a_template_that_explodes_in_size_is_stopped_by_the_size_cap(bomb: str) -> None:
    renderer = Renderer("mx.test.example", timeout_seconds=30.0, max_bytes=200_000)
    with pytest.raises(RenderError, match="larger than 200000 bytes"):
        render(renderer, Content(subject="s", html=bomb))
    assert parse(render(renderer))["Subject"] == "Hello Ann, your gold plan"


@pytest.mark.parametrize(
    "bomb", ['{{ "x" * 10**10 }}', "{{ 7 ** 1000000000 }}", "{{ [1] * 10**9 }}"]
)
def test_single_huge_operations_are_refused_by_the_sandbox(renderer: Renderer, bomb: str) -> None:
    with pytest.raises(RenderError, match="too large"):
        render(renderer, Content(subject="s", text=bomb))


def test_the_size_cap_counts_the_assembled_message_too() -> None:
    renderer = Renderer("mx.test.example", timeout_seconds=2.0, max_bytes=10_000)
    # 8,000 characters of output, but 12,000 octets once in UTF-8 and quoted-printable.
    with pytest.raises(RenderError, match="larger than 10000 bytes"):
        render(renderer, Content(subject="s", text="éxxxxxxxxx" * 800))


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Sources the renderer compiled, in order."""
    seen: list[str] = []

    def counting(source: str, *, html: bool) -> Any:
        seen.append(source)
        return compile_template(source, html=html)

    monkeypatch.setattr("mailfleet.agent.render.message.compile_template", counting)
    yield seen


def test_templates_are_compiled_once_per_source(renderer: Renderer, compiles: list[str]) -> None:
    for name in ["Ann", "Bob", "Cy"]:
        assert parse(render(renderer, to_name=name))["To"].addresses[0].display_name == name
    assert sorted(compiles) == sorted([CONTENT.subject, CONTENT.html, CONTENT.text])
