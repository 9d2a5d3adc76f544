"""The message catalogue: every error and status the screens show, in plain sentences.

A view never shows ``str(exc)``: ``explain(exc)`` gives one clear sentence for the person
reading it ("Nothing answered at that address: is the agent running?" rather than "[Errno 111]
Connection refused"), and the states the agents' link reports ("following", "unreachable: …")
read through ``sync_state``. Our own errors whose message is written for people (a name already
taken, a field that cannot be read) are shown as they are, unless the text looks technical
(``looks_technical``), in which case the catalogue's sentence for the cause is used. What was
left out is logged, for whoever reads the logs.

Every sentence is a whole string (placeholders filled by ``str.format``), so each can be
translated as it stands.
"""

from __future__ import annotations

import logging
import re
import socket
import sqlite3
import ssl

import grpc
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from mailfleet.desktop.agents.registry import AgentError, FingerprintMismatch
from mailfleet.desktop.services.invites import InviteError
from mailfleet.desktop.services.people import NotAllowed
from mailfleet.desktop.services.secrets import KeyringUnavailable

log = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong that Mailfleet did not expect; the details are in its log."

# Text that means nothing to a marketer: error numbers, tracebacks, class names, code-style
# keys, internal ids ("agent 1 event 151"), gRPC codes.
TECHNICAL = re.compile(
    r"\[Errno \d+\]|Errno|Traceback|\bFile \"|\b[A-Z]\w*(Error|Exception)\b|StatusCode|"
    r"\b[A-Z]{3,}_[A-Z_]+\b|\bgrpc\b|\bNone\b|0x[0-9a-f]{4,}|"
    r"\b(agent|event|campaign|contact|part|form|list|segment) #?\d+\b|"
    r"(?<![\w.@{/-])[a-z]+_[a-z0-9_]+(?![\w.@}/-])"
)
# What is no code even when it looks like it: addresses, links, file paths, merge tags.
_NOT_CODE = re.compile(r"\S+@\S+|https?://\S+|\S*/\S+|\{\{[^}]*\}\}|\{%[^%]*%\}")


def looks_technical(text: str) -> bool:
    """Whether ``text`` holds something only a programmer reads (see ``TECHNICAL``)."""
    return TECHNICAL.search(_NOT_CODE.sub(" ", text)) is not None


UNREACHABLE = ("The agent could not be reached: it may be stopped, or the network between "
               "this computer and it is down.")  # fmt: skip
_RPC = {
    grpc.StatusCode.UNAVAILABLE: UNREACHABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: "The agent did not answer in time; it may be busy. "
    "Try again in a moment.",
    grpc.StatusCode.UNAUTHENTICATED: "The agent refused this desktop's key: pair it again "
    "with a fresh pairing string.",
    grpc.StatusCode.PERMISSION_DENIED: "The agent does not allow this desktop to do that.",
    grpc.StatusCode.NOT_FOUND: "The agent does not know that item (it may have been removed).",
    grpc.StatusCode.ALREADY_EXISTS: "The agent already has that item.",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "The agent is full or over its limit; try again later.",
    grpc.StatusCode.UNIMPLEMENTED: "That agent's version cannot do this yet: update the agent.",
    grpc.StatusCode.CANCELLED: "The request to the agent was stopped before it finished.",
}
_RPC_OTHER = "The agent could not do that."
# The agent's own replies to these are written for people (one clear line): shown as they are.
_RPC_PLAIN = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
              grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.NOT_FOUND,
              grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.RESOURCE_EXHAUSTED}  # fmt: skip

# The first entry whose class the exception is an instance of gives the sentence.
_BY_CLASS: tuple[tuple[type[BaseException], str], ...] = (
    (FingerprintMismatch, "The agent's certificate is not the one this desktop paired with: "
     "it may be another machine. Pair it again if it was reinstalled."),
    (ConnectionRefusedError, "Nothing answered at that address: check that it is running and "
     "that the address is right."),
    (ConnectionResetError, "The connection was cut off; try again."),
    (socket.gaierror, "That host name could not be found: check the address."),
    (TimeoutError, "No answer came in time; try again in a moment."),
    (ssl.SSLError, "The secure connection could not be set up."),
    (FileNotFoundError, "That file or folder does not exist (any more)."),
    (PermissionError, "Mailfleet is not allowed to open that file or folder."),
    (IsADirectoryError, "That is a folder, not a file."),
    (UnicodeError, "The file is not text Mailfleet can read (an unknown encoding)."),
    (IntegrityError, "That would repeat something that already exists."),
    (OperationalError, "The database could not be used just now; try again in a moment."),
    (sqlite3.Error, "The database could not be used just now; try again in a moment."),
    (SQLAlchemyError, "The database could not be read or written."),
    (ConnectionError, "The network connection failed; try again."),
    (OSError, "A file or the network could not be used."),
)
# Our own errors carry a message written for the screen (checked by ``looks_technical``).
_WRITTEN_FOR_PEOPLE: tuple[type[BaseException], ...] = (
    ValueError, LookupError, RuntimeError, AgentError, KeyringUnavailable, NotAllowed,
    InviteError)  # fmt: skip


def _rpc(exc: grpc.RpcError) -> str:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = (exc.details() or "") if isinstance(exc, grpc.Call) else ""
    if code in _RPC_PLAIN and details and not looks_technical(details):
        return details
    return _RPC.get(code, _RPC_OTHER) if code is not None else _RPC_OTHER


def sentence(text: str) -> str:
    """``text`` as a sentence: a capital first letter and a full stop (or ?, !, …)."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!…" else f"{text}."


def explain(exc: BaseException) -> str:
    """One plain sentence saying what went wrong, for the screen."""
    if isinstance(exc, grpc.RpcError):
        return _rpc(exc)
    for kind, text in _BY_CLASS:
        if isinstance(exc, kind):
            log.info("shown as %r: %r", text, exc)
            return text
    message = str(exc)
    if isinstance(exc, _WRITTEN_FOR_PEOPLE) and message and not looks_technical(message):
        return message
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        # "cannot reach the agent at host:port: [Errno 111] …": the plain head is kept.
        head = message.split(": ", 1)[0] if ": " in message else ""
        if isinstance(exc, _WRITTEN_FOR_PEOPLE) and head and not looks_technical(head):
            return "{what}: {why}".format(what=sentence(head).rstrip("."), why=explain(cause))
        return explain(cause)
    log.warning("no plain words for %r", exc, exc_info=exc)
    return UNEXPECTED


# The event link's states (``agents/follow.py``), as the Agents page's column shows them.
SYNC_STATES = {
    "starting": "Connecting…",
    "following": "Up to date",
    "unreachable": "Waiting for the agent (it cannot be reached); retrying",
    "blocked": "Stopped: the agent's certificate changed. Pair it again.",
}


def sync_state(state: str) -> str:
    """An agent's event-link state in words ("following" is "Up to date")."""
    head = state.split(":", 1)[0].strip()
    return SYNC_STATES.get(head, SYNC_STATES["unreachable"] if head else SYNC_STATES["starting"])


# Why an address is suppressed (``SuppressionReason``), as the Suppression page shows it.
SUPPRESSION_REASONS = {
    "unsubscribed": "Unsubscribed",
    "bounced": "Bounced",
    "complained": "Marked as spam",
    "manual": "Added by hand",
    "erased": "Erased (privacy request)",
}
_FROM_AN_AGENT = re.compile(r"agent \d+ event \d+")
SUPPRESSION_SOURCES = {
    "desktop": "In the desktop",
    "agent": "Reported by a sending agent",
    "other": "Recorded by Mailfleet",
}


def suppression_source(source: str) -> str:
    """Where a suppression came from, in words: "agent 1 event 151" (what is kept, to trace
    it) reads "Reported by a sending agent"."""
    if _FROM_AN_AGENT.fullmatch(source):
        return SUPPRESSION_SOURCES["agent"]
    if source in SUPPRESSION_SOURCES:
        return SUPPRESSION_SOURCES[source]
    return SUPPRESSION_SOURCES["other"] if looks_technical(source) else source


def plain(text: str, fallback: str) -> str:
    """``text`` (a status or error an agent or library put in words) if it reads as plain
    words, else ``fallback``."""
    return fallback if looks_technical(text) else text
