"""Logging for the agent: readable lines or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from pydantic import BaseModel

# Fields a log call may attach with ``extra={...}``; they become keys of a JSON line and a
# ``[campaign=… message=…]`` suffix of a plain one, so one campaign's lines can be found and
# outcomes counted by route or status without parsing the text.
CONTEXT_FIELDS = (
    "campaign_id",
    "message_id",
    "tenant_id",
    "recipient_domain",
    "route",
    "pool",
    "mx_host",
    "status",
    "enhanced_code",
    "delay_seconds",
    "attempt",
)


class LogSettings(BaseModel):
    """Where and how the agent logs (stderr, so journald picks it up)."""

    level: str = "INFO"
    json_lines: bool = False


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k in CONTEXT_FIELDS if (v := record.__dict__.get(k)) is not None}


def timestamp(record: logging.LogRecord) -> str:
    """The record's time in RFC 3339, UTC, to the millisecond: 2026-12-07T19:12:00.123Z."""
    moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _Plain(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return timestamp(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context(record)
        if context:
            ids = " ".join(f"{k.removesuffix('_id')}={v}" for k, v in context.items())
            line = f"{line} [{ids}]"
        return line


def configure(level: str, json_lines: bool) -> None:
    """Send the ``mailfleet`` loggers to stderr at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines() if json_lines else _Plain())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
