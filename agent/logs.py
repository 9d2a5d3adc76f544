"""Logging for the agent: readable lines or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import sys

from pydantic import BaseModel

# Ids a log call may attach with ``extra={...}``; they become fields of a JSON line and a
# ``[campaign=… message=…]`` suffix of a plain one, so one campaign's lines can be found.
CONTEXT_FIELDS = ("campaign_id", "message_id", "tenant_id")


class LogSettings(BaseModel):
    """Where and how the agent logs (stderr, so journald picks it up)."""

    level: str = "INFO"
    json_lines: bool = False


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k in CONTEXT_FIELDS if (v := record.__dict__.get(k)) is not None}


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
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
