"""The intake's own reading of plain MAIL FROM and RCPT TO paths agrees with aiosmtpd's."""

from __future__ import annotations

import types

import pytest
from aiosmtpd.smtp import SMTP

from mailfleet.agent.intake.addresses import plain_path

# aiosmtpd's reading, as its sessions (with no local-part limit, the default) call it.
_AIOSMTPD = types.SimpleNamespace(local_part_limit=0)

PLAIN = [
    "<app@shop.example>",
    "<app@shop.example> SIZE=5120 BODY=8BITMIME",
    "<app@shop.example>  SIZE=1",
    "<app@shop.example>\tSIZE=1",
    "<app@shop.example>SIZE=1",
    "<app@shop.example> ",
    "<app@shop.example> \x0bSIZE=1",
    "<app@shop.example> X  Y (z)",
    "<app@shop.example>>",
    "<A.B+tag@Mail-1.SHOP.example>",
    "<o'brien!#$%&*/=?^_`{|}~-x@d.example>",
    "<r1@d1>",
]
NOT_PLAIN = [
    "",
    "<>",
    "<> SIZE=1",
    "app@shop.example",
    " <app@shop.example>",
    "<app@shop.example> (a comment) SIZE=1",
    "<app@shop.example>(comment)",
    '<"quoted local"@shop.example>',
    "<app@[127.0.0.1]>",
    "<app@shop.example.>",
    "<.app@shop.example>",
    "<app.@shop.example>",
    "<a..b@shop.example>",
    "<app@shop..example>",
    "<app@shop_example.test>",
    "<ünïcode@shop.example>",
    "<app@bücher.example>",
    "<@relay.example:app@shop.example>",
    "<app@shop.example",
    "<app shop.example>",
]


@pytest.mark.parametrize("arg", PLAIN)
def test_a_plain_path_is_read_without_the_parser_as_aiosmtpd_reads_it(arg: str) -> None:
    assert plain_path(arg) == SMTP._getaddr(_AIOSMTPD, arg)  # type: ignore[arg-type]


@pytest.mark.parametrize("arg", NOT_PLAIN)
def test_anything_else_is_left_to_aiosmtpd(arg: str) -> None:
    assert plain_path(arg) is None
