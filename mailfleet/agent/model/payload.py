"""A message's recipient payload: the name and merge fields its renderer needs.

Our own encoding, independent of the gRPC contract: the store keeps it in
``messages.payload`` (a BLOB) and the worker pipe carries it as it is stored. It is encoded
once, when a message is queued, and decoded once, in the worker that renders the message.

The bytes are a compact JSON array in UTF-8, ``[name, [value, ...], {"field": value, ...}]``:
the recipient's display name, the positional values of an upload (named by the upload's field
names, kept once per upload rather than in every row) and named fields. JSON because the
stdlib reads and writes it in C, and because it is text: the store's one enqueue carries
every row's payload inside the JSON document its single INSERT reads (a million rows for an
upload), and stores it with ``CAST(... AS BLOB)``, which keeps exactly these bytes; a binary
encoding could not travel that way and would cost a Python call per row on the writer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import NamedTuple

# Named fields are rare (positional values are the bulk case): the stdlib encoder is fine
# for them; the name and values are quoted directly, which is twice as fast as building a
# list for json.dumps.
_fields_json = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode
# raw_decode, not json.loads: it skips loads' argument checks and the whitespace regex (the
# encoder writes none around the array); with join() below, decoding costs a third less.
_decoder = json.JSONDecoder()


class PayloadError(ValueError):
    """Stored bytes that are not a recipient payload."""


class Payload(NamedTuple):
    """A decoded payload (a named tuple: one is built for every message a worker renders)."""

    name: str
    values: Sequence[str]  # positional values, named by the upload's field names
    fields: Mapping[str, str]  # named fields; a name here wins over a positional one

    def merge_fields(self, field_names: Sequence[str]) -> dict[str, str]:
        """Every merge field by name: the values under ``field_names``, then the named
        fields. Values beyond the names are left out, as are names without a value."""
        merged = dict(zip(field_names, self.values, strict=False))
        merged.update(self.fields)
        return merged


def encode_text(
    name: str = "", values: Iterable[str] = (), fields: Mapping[str, str] | None = None
) -> str:
    """The payload as text: its UTF-8 bytes are what :func:`encode` returns.

    For callers that carry payloads inside a JSON document (the store's enqueue).
    Strings must be valid Unicode (no lone surrogates); protobuf's strings always are.
    """
    named = _fields_json(dict(fields)) if fields else "{}"
    return f"[{encode_basestring(name)},[{','.join(map(encode_basestring, values))}],{named}]"


def encode(
    name: str = "", values: Iterable[str] = (), fields: Mapping[str, str] | None = None
) -> bytes:
    """The payload of a recipient, as the store keeps it."""
    return encode_text(name, values, fields).encode("utf-8")


def decode(data: bytes) -> Payload:
    """Read a stored payload; raises :class:`PayloadError` for anything else."""
    try:
        text = data.decode("utf-8")
        (name, values, fields), end = _decoder.raw_decode(text)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"not JSON ({exc.msg} at character {exc.pos})") from None
    except (TypeError, ValueError):  # JSON, but not three items
        raise PayloadError("not a [name, values, fields] array") from None
    except RecursionError:  # nested deeper than the C parser goes
        raise PayloadError("nested too deeply") from None
    if end != len(text):
        raise PayloadError(f"not JSON (extra data at character {end})")
    if not (type(name) is str and type(values) is list and type(fields) is dict):
        raise PayloadError("a name, values or fields of the wrong type")
    try:  # join() refuses anything but strings, in C rather than a loop in Python
        "".join(values)
        "".join(fields.values())
    except TypeError:
        raise PayloadError("a value or field that is not a string") from None
    return Payload(name, values, fields)
