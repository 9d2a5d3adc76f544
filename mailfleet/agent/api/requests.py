"""Checks on request fields: each failure is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.model import Content, Sender, Tracking
from mailfleet.agent.model.send_window import SendWindow
from mailfleet.agent.render.templates import TemplateError, compile_template
from mailfleet.agent.validation import (
    is_field_name,
    is_header_name,
    is_idempotency_key,
    normalize_address,
    text_line,
)
from mailfleet.v1 import campaigns_pb2, common_pb2

MAX_TEMPLATE = 1_000_000


def idempotency_key(field: str, key: str) -> str:
    """A required client idempotency key."""
    if not is_idempotency_key(key):
        raise InvalidArgument(field, "required: 1-200 printable ASCII characters")
    return key


def address(field: str, value: str, *, required: bool = True) -> str:
    """A mailbox address."""
    if not value and not required:
        return ""
    if not value:
        raise InvalidArgument(field, "required")
    if normalize_address(value) is None:
        raise InvalidArgument(field, f"{value!r} is not a valid email address")
    return value


def sender(field: str, msg: common_pb2.Sender) -> Sender:
    """The From identity."""
    return Sender(
        from_address=address(f"{field}.from_address", msg.from_address),
        from_name=text_line(f"{field}.from_name", msg.from_name),
        reply_to=address(f"{field}.reply_to", msg.reply_to, required=False),
    )


def _template(field: str, source: str, *, html: bool) -> None:
    if len(source) > MAX_TEMPLATE:
        raise InvalidArgument(field, f"larger than {MAX_TEMPLATE} characters")
    try:
        compile_template(source, html=html)
    except TemplateError as exc:
        raise InvalidArgument(field, f"template error at {exc}") from None


def content(field: str, msg: common_pb2.Content) -> Content:
    """Subject and body templates (compiled here to catch errors) and extra headers."""
    if not msg.subject.strip():
        raise InvalidArgument(f"{field}.subject", "required")
    if not msg.html.strip() and not msg.text.strip():
        raise InvalidArgument(f"{field}.html", "html or text is required")
    text_line(f"{field}.subject", msg.subject, limit=2000)
    _template(f"{field}.subject", msg.subject, html=False)
    _template(f"{field}.html", msg.html, html=True)
    _template(f"{field}.text", msg.text, html=False)
    for name, value in msg.headers.items():
        if not is_header_name(name):
            raise InvalidArgument(
                f"{field}.headers", f"{name!r} is not a header a campaign may set"
            )
        text_line(f"{field}.headers[{name}]", value, limit=2000)
        _template(f"{field}.headers[{name}]", value, html=False)
    return Content(msg.subject, msg.html, msg.text, dict(msg.headers))


def send_window(field: str, msg: campaigns_pb2.SendWindow) -> SendWindow:
    """The days, hours and time zone a campaign may send in."""
    if not msg.weekdays or any(not 1 <= d <= 7 for d in msg.weekdays):
        raise InvalidArgument(f"{field}.weekdays", "name 1 (Monday) to 7 (Sunday)")
    if not 0 <= msg.start_minute <= 1439:
        raise InvalidArgument(f"{field}.start_minute", "must be 0-1439")
    if not msg.start_minute < msg.end_minute <= 1440:
        raise InvalidArgument(f"{field}.end_minute", "must be after start_minute, at most 1440")
    try:
        ZoneInfo(msg.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"{field}.time_zone", "not a known time zone") from None
    return SendWindow(
        tuple(sorted(set(msg.weekdays))), msg.start_minute, msg.end_minute, msg.time_zone
    )


def tracking(msg: common_pb2.Tracking) -> Tracking:
    """Open and click tracking flags."""
    return Tracking(opens=msg.opens, clicks=msg.clicks)


def field_names(field: str, names: list[str]) -> tuple[str, ...]:
    """Names for positional merge values: identifiers, unique, not reserved."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not is_field_name(name):
            raise InvalidArgument(
                f"{field}[{i}]", f"{name!r} is not a merge field name (letters, digits, _)"
            )
        if name in seen:
            raise InvalidArgument(f"{field}[{i}]", f"{name!r} appears twice")
        seen.add(name)
    return tuple(names)


def limit(field: str, value: int, default: int, maximum: int) -> int:
    """A page size: 0 means the default."""
    if value == 0:
        return default
    if value > maximum:
        raise InvalidArgument(field, f"at most {maximum}")
    return value
