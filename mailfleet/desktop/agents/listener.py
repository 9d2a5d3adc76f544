"""How a background thread learns that whoever listened to it is gone."""

from __future__ import annotations


class ListenerGone(Exception):
    """Raised by a thread's callback when its receiver no longer exists (a window or page was
    deleted without stopping the threads it started): the thread ends itself."""
