"""One INFO line per settled delivery attempt, with the fields an operator searches by.

Like Postfix's ``status=sent``/``status=deferred`` lines: every outcome is logged, delivered and
deferred ones too, with the message, campaign and tenant ids, the recipient's domain, the
route and the IP pool it sends from, the host that answered, the status, the enhanced code,
the delay since the message was queued and the attempt number as fields of their own (keys
of a JSON line, ``key=value`` at the end of a plain one), so a log pipeline can count and
filter them without parsing text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

from mailfleet.agent.store.queue import Settled

log = logging.getLogger("mailfleet.agent.delivery")


def log_settled(results: Iterable[Settled], pools: Mapping[str, str]) -> None:
    """Log each outcome the scheduler has just committed; ``pools`` names the IP pool each
    route sends from."""
    if not log.isEnabledFor(logging.INFO):
        return
    now = time.time()
    for r in results:
        m = r.message
        status = r.event.name.removeprefix("MESSAGE_").lower()
        route = r.attrs.get("route", "")
        host = r.host or r.attrs.get("host", "")
        log.info(
            "%s to <%s> via %s%s after %d attempt%s: %s",
            status,
            m.email,
            route or "no route",
            f" ({host})" if host else "",
            m.attempts,
            "" if m.attempts == 1 else "s",
            r.reply or r.attrs.get("expired", "") or "no reply",
            extra={
                "campaign_id": m.campaign_id,
                "message_id": m.id,
                "tenant_id": m.tenant_id,
                "recipient_domain": m.email.rpartition("@")[2].lower(),
                "route": route or None,
                "pool": pools.get(route) or None,
                "mx_host": host or None,
                "status": status,
                "enhanced_code": r.attrs.get("enhanced") or None,
                "delay_seconds": round(max(now - m.created_at, 0.0), 3),
                "attempt": m.attempts,
            },
        )
