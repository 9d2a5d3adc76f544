"""Checks of a submitted message's bytes, its From domains and its control headers.

Pure functions of bytes: the session calls them once the final dot has arrived. Each problem
is an :class:`Refusal` carrying the SMTP reply to send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from email.utils import format_datetime, getaddresses

from mailfleet.agent import validation
from mailfleet.agent.errors import InvalidArgument
from mailfleet.agent.model import Tracking
from mailfleet.agent.validation import normalize_domain

CONTROL_PREFIX = b"x-mailfleet-"
_TAGS = "x-mailfleet-tags"
_ROUTE = "x-mailfleet-route"
_CAMPAIGN = "x-mailfleet-campaign"
_POOL = "x-mailfleet-pool"
_TRACK = "x-mailfleet-track"
_KNOWN = frozenset({_TAGS, _ROUTE, _CAMPAIGN, _POOL, _TRACK})
# Submitted mail is tracked like campaign mail unless X-Mailfleet-Track says otherwise.
TRACK_BY_DEFAULT = Tracking(opens=True, clicks=True)


class Refusal(Exception):
    """The message (or command) is refused with ``reply``."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True)
class Controls:
    """What the control headers asked for; they are gone from the message itself."""

    tags: tuple[str, ...] = ()
    route: str = ""
    campaign: str = ""
    pool: str = ""
    tracking: Tracking = TRACK_BY_DEFAULT


@dataclass(frozen=True)
class Choices:
    """What control headers may name on this agent: its routes, and its IP pools each with
    the direct MX routes that send from it (none for a pool no route uses)."""

    routes: frozenset[str] = frozenset()
    pools: Mapping[str, tuple[str, ...]] = dataclass_field(default_factory=dict)


def check_framing(data: bytes) -> None:
    """Refuse NUL bytes and any CR or LF that is not part of a CRLF pair.

    Bare LF and bare CR are how end-of-data smuggling (``\\n.\\n``, ``\\r.\\r`` …) hides a
    second message inside the first; refusing them whole means no variant yields one.
    """
    if b"\x00" in data:
        raise Refusal("554 5.6.0 Message refused: it contains NUL bytes")
    pairs = data.count(b"\r\n")
    if data.count(b"\n") != pairs or data.count(b"\r") != pairs:
        raise Refusal("554 5.6.0 Message refused: bare CR or LF; end every line with CRLF")


def split_header(data: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each with its folded lines and CRLFs) and the rest of the message."""
    end = data.find(b"\r\n\r\n")
    if data.startswith(b"\r\n"):
        return [], data
    head, body = (data, b"") if end < 0 else (data[: end + 2], data[end + 2 :])
    fields: list[bytes] = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields, body


def _name(field: bytes) -> str:
    return field.partition(b":")[0].strip().decode("ascii", "replace").lower()


def _value(field: bytes) -> str:
    raw = field.partition(b":")[2].decode("utf-8", "replace")
    return " ".join(raw.split())


def take_controls(fields: list[bytes], choices: Choices) -> tuple[list[bytes], Controls]:
    """Remove every ``X-Mailfleet-*`` field; return the others and what the known ones say."""
    kept: list[bytes] = []
    values: dict[str, str] = {}
    for field in fields:
        if not field.lower().startswith(CONTROL_PREFIX):
            kept.append(field)
            continue
        name = _name(field)
        if name not in _KNOWN:
            raise Refusal(f"554 5.6.0 Unknown control header {name!r}")
        if name in values:
            raise Refusal(f"554 5.6.0 More than one {name} header")
        values[name] = _value(field)
    try:
        tags = validation.tags(
            "X-Mailfleet-Tags", [t.strip() for t in values.get(_TAGS, "").split(",") if t.strip()]
        )
        campaign = validation.text_line("X-Mailfleet-Campaign", values.get(_CAMPAIGN, ""))
    except InvalidArgument as exc:
        raise Refusal(f"554 5.6.0 {exc}") from None
    route = values.get(_ROUTE, "")
    if route and route not in choices.routes:
        raise Refusal(f"554 5.6.0 X-Mailfleet-Route: no route named {route!r} on this agent")
    pool = values.get(_POOL, "")
    if pool:
        _check_pool(pool, route, choices)
    tracking = TRACK_BY_DEFAULT if _TRACK not in values else tracking_asked(values[_TRACK])
    return kept, Controls(tags, route, campaign, pool, tracking)


def _check_pool(pool: str, route: str, choices: Choices) -> None:
    senders = choices.pools.get(pool)
    if senders is None:
        raise Refusal(f"554 5.6.0 X-Mailfleet-Pool: no IP pool named {pool!r} on this agent")
    if not senders:
        raise Refusal(f"554 5.6.0 X-Mailfleet-Pool: no direct MX route sends from IP pool {pool!r}")
    if route and route not in senders:
        raise Refusal(
            f"554 5.6.0 X-Mailfleet-Route {route!r} does not send from X-Mailfleet-Pool {pool!r}"
        )


def tracking_asked(value: str) -> Tracking:
    """What ``X-Mailfleet-Track`` asks for: ``none``, or ``opens``, ``clicks`` or both
    separated by commas (case and spaces do not matter)."""
    words = {w.strip().lower() for w in value.split(",")} - {""}
    if words == {"none"}:
        return Tracking(opens=False, clicks=False)
    if not words or not words <= {"opens", "clicks"}:
        raise Refusal(
            f"554 5.6.0 X-Mailfleet-Track: {value!r} is not none, opens, clicks or opens,clicks"
        )
    return Tracking(opens="opens" in words, clicks="clicks" in words)


def from_domains(fields: list[bytes]) -> list[str]:
    """Domains of the addresses in the one From field; refuse none, several or unparsable."""
    froms = [f for f in fields if _name(f) == "from"]
    if len(froms) != 1:
        raise Refusal(
            f"554 5.6.0 Message refused: it needs exactly one From header (it has {len(froms)})"
        )
    addresses = [a for _, a in getaddresses([_value(froms[0])]) if a]
    if not addresses or any("@" not in a for a in addresses):
        raise Refusal("554 5.6.0 Message refused: its From header holds no usable address")
    return [normalize_domain(a.rpartition("@")[2]) for a in addresses]


def received(helo: str, peer: str, hostname: str, protocol: str, now: float) -> bytes:
    """A ``Received:`` field for the top of the message (RFC 5321 section 4.4)."""
    helo_text = "".join(c for c in helo if c.isprintable() and c not in "()")[:100] or "unknown"
    stamp = format_datetime(datetime.fromtimestamp(now).astimezone())
    return (
        f"Received: from {helo_text} ([{peer}])\r\n\tby {hostname} (Mailfleet) with {protocol};"
        f"\r\n\t{stamp}\r\n"
    ).encode("utf-8", "replace")
