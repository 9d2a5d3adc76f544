"""Asking a SpamAssassin daemon (spamd) to score a message, with the SPAMC protocol's REPORT
command (through ``aiospamc``); the answer is read by ``services.spam_report``.

spamd is not an agent, but like the agents it is a server the desktop reaches over the network,
so it is asked from here, on a background task, never on the GUI thread. Where it runs is the
workspace's setting (``services.spamd_setting``); none means the check is not set up.
"""

from __future__ import annotations

import asyncio

import aiospamc
from aiospamc.exceptions import ClientException, TimeoutException
from aiospamc.responses import ResponseException

from mailfleet.desktop.services.spam_report import SpamReport, read_report
from mailfleet.desktop.services.spamd_setting import parse_address

TIMEOUT_SECONDS = 60.0  # spamd scores one message in a second or two; a loaded one is slower


class SpamdUnavailable(RuntimeError):
    """spamd could not score the message; the message says why, for the person reading it."""


def score(address: str, message: bytes, timeout: float = TIMEOUT_SECONDS) -> SpamReport:
    """SpamAssassin's report on ``message`` (RFC 5322 bytes) from the spamd at ``address``."""
    try:
        host, port = parse_address(address)
    except ValueError as exc:
        raise SpamdUnavailable(str(exc)) from None
    try:
        response = asyncio.run(
            aiospamc.report(message, host=host, port=port, timeout=aiospamc.Timeout(total=timeout))
        )
    except TimeoutException:
        raise SpamdUnavailable(f"SpamAssassin at {address} did not answer in time.") from None
    except (ClientException, ResponseException, OSError):
        raise SpamdUnavailable(
            f"SpamAssassin at {address} cannot be reached: is spamd running there?"
        ) from None
    verdict = response.headers.spam
    if verdict is None:
        raise SpamdUnavailable(f"SpamAssassin at {address} gave no score.")
    body = response.body.decode("utf-8", errors="replace")
    return read_report(verdict.score, verdict.threshold, body)
