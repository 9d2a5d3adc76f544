"""Automation definitions the tests share, as an API caller writes them."""

from __future__ import annotations

import json
from typing import Any

FROM = "news@shop.example"
DAY = 86400.0


def send(subject: str, **extra: Any) -> dict[str, Any]:
    """A send step."""
    return {"kind": "send", "from_address": FROM, "subject": subject, "text": "Hi", **extra}


def welcome_series(trigger: dict[str, Any] | None = None, **extra: Any) -> str:
    """Send a welcome, wait two days, then a tip to those who opened it and a nudge to the
    others (steps 5 and 3)."""
    steps = [
        send("Welcome"),
        {"kind": "wait", "seconds": 2 * DAY},
        {"kind": "branch", "condition": "opened", "step": 0, "then": 5},
        send("Did you see our welcome?"),
        {"kind": "exit"},
        send("A tip for you"),
    ]
    return json.dumps({"trigger": trigger or {"kind": "signup"}, "steps": steps, **extra})
