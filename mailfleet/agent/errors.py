"""The agent's error type: each error knows the gRPC status it maps to.

Raised anywhere below the API (validation, store); the API's interceptor is the one place that
turns it into a gRPC status with the human message.
"""

from __future__ import annotations

import os
import socket

import grpc


class AgentError(Exception):
    """Base class; ``status`` is the gRPC code the client sees with ``str(self)``."""

    status = grpc.StatusCode.INTERNAL


class InvalidArgument(AgentError):
    """A request field is wrong; the message starts with the field's name."""

    status = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotFound(AgentError):
    """The thing does not exist for the caller's tenant (another tenant's ids look the same)."""

    status = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(AgentError):
    """The request is well-formed but not allowed in the current state."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class AlreadyExists(AgentError):
    """A unique name is taken."""

    status = grpc.StatusCode.ALREADY_EXISTS


class Unauthenticated(AgentError):
    """No API key, or one the agent does not accept."""

    status = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(AgentError):
    """The key is valid but may not do this."""

    status = grpc.StatusCode.PERMISSION_DENIED


class OutOfRange(AgentError):
    """A cursor points before what the agent still keeps (e.g. events past retention)."""

    status = grpc.StatusCode.OUT_OF_RANGE


class ConfigError(Exception):
    """The operator's configuration is missing, unreadable or invalid; the message says where.

    Not an :class:`AgentError`: it stops the agent (or refuses a reload), and never reaches a
    client.
    """


def why_not_listening(exc: OSError) -> str:
    """The operating system's reason a listener could not bind ("address already in use"),
    without the address and wording asyncio and aiohttp wrap it in."""
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


def bind_failure(listen: str) -> str:
    """Why ``HOST:PORT`` cannot be listened on ("address already in use"), or "" when it can:
    tried with a plain socket, since gRPC's own failure is a raw log line and no reason."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As servers bind (gRPC, asyncio, aiohttp): a port left in TIME_WAIT is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, int(port)))
    except ValueError:
        return "not a host:port address"
    except OSError as exc:
        return why_not_listening(exc)
    return ""
