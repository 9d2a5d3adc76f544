"""Checking uploaded recipients row by row: the hot path of a million-row upload.

Every row ends as accepted or as a rejection with a reason; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mailfleet.agent.model import RecipientRows, payload
from mailfleet.agent.validation import (
    AddressProblem,
    address_problem,
    is_field_name,
    is_header_safe,
    normalize_address,
)
from mailfleet.v1 import common_pb2

_REASON = {
    AddressProblem.SYNTAX: common_pb2.REJECT_REASON_SYNTAX,
    AddressProblem.HEADER_UNSAFE: common_pb2.REJECT_REASON_HEADER_UNSAFE,
}


@dataclass
class CheckedRows:
    """The outcome of checking one batch."""

    accepted: RecipientRows = field(default_factory=RecipientRows)
    rejected: list[common_pb2.Rejection] = field(default_factory=list)


def _row_problem(
    r: common_pb2.Recipient, n_names: int
) -> tuple[common_pb2.RejectReason.ValueType, str] | None:
    if r.name and not is_header_safe(r.name):
        return common_pb2.REJECT_REASON_HEADER_UNSAFE, "the name holds a control character"
    if len(r.values) > n_names:
        return (
            common_pb2.REJECT_REASON_BAD_FIELDS,
            f"{len(r.values)} values for {n_names} field names",
        )
    if r.values and "\x00" in "".join(r.values):
        return common_pb2.REJECT_REASON_HEADER_UNSAFE, "a merge value holds a NUL character"
    for key, value in r.fields.items():
        if not is_field_name(key):
            return common_pb2.REJECT_REASON_BAD_FIELDS, f"{key!r} is not a merge field name"
        if "\x00" in value:
            return common_pb2.REJECT_REASON_HEADER_UNSAFE, f"merge field {key!r} holds a NUL"
    return None


def check_rows(rows: Iterable[common_pb2.Recipient], n_names: int, first_index: int) -> CheckedRows:
    """Validate rows numbered from ``first_index``.

    Repeats inside the batch are set aside here; repeats of earlier batches are found by the
    store's unique index.
    """
    out = CheckedRows()
    seen: set[str] = set()
    keep_position = out.accepted.positions.append
    keep_row = out.accepted.rows.append
    for index, r in enumerate(rows, first_index):
        email = r.email
        norm = normalize_address(email)
        if norm is None:
            problem = address_problem(email)
            out.rejected.append(
                common_pb2.Rejection(
                    index=index,
                    email=email,
                    reason=_REASON[problem],
                    detail="not a valid email address"
                    if problem is AddressProblem.SYNTAX
                    else "the address holds CR, LF, NUL or another control character",
                )
            )
            continue
        name, fields, values = r.name, r.fields, r.values[:]
        text = payload.encode_text(name, values, fields)
        # Only a name, named fields, too many values or a NUL in a value (which the payload's
        # JSON writes as \u0000) need the slow check.
        if name or fields or len(values) > n_names or "\\u0000" in text:
            row_problem = _row_problem(r, n_names)
            if row_problem is not None:
                out.rejected.append(
                    common_pb2.Rejection(
                        index=index, email=email, reason=row_problem[0], detail=row_problem[1]
                    )
                )
                continue
        if norm in seen:
            out.accepted.repeats.append((index, email))
            continue
        seen.add(norm)
        keep_position(index)
        keep_row((email, norm, text))
    return out
