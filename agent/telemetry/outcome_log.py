"""One log line per settled delivery attempt, carrying the campaign and message ids.

Bounces and failures are logged at INFO (an operator looks for them); deliveries and
deferrals only at DEBUG, since a campaign makes thousands of them a second.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from agent.model import EventType
from agent.store.queue import Settled

log = logging.getLogger("mailfleet.agent.delivery")

_LEVELS = {
    EventType.MESSAGE_BOUNCED: logging.INFO,
    EventType.MESSAGE_FAILED: logging.INFO,
}


def log_settled(results: Iterable[Settled]) -> None:
    """Log each outcome the scheduler has just committed."""
    for r in results:
        level = _LEVELS.get(r.event, logging.DEBUG)
        if not log.isEnabledFor(level):
            continue
        m = r.message
        log.log(
            level,
            "%s to <%s> after %d attempt(s): %s",
            r.event.name.removeprefix("MESSAGE_").lower(),
            m.email,
            m.attempts,
            r.reply or r.attrs.get("expired", "") or "no reply",
            extra={"campaign_id": m.campaign_id, "message_id": m.id, "tenant_id": m.tenant_id},
        )
