"""Telling machine fetches of tracking URLs from people: link scanners, image proxies that
prefetch, preview bots. Such opens and clicks are recorded, flagged, so reports can leave them
out. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping

_AGENTS = re.compile(
    r"bot\b|crawler|spider|preview|scanner|headless|python-|curl/|wget/|go-http-client|"
    r"java/|okhttp|libwww|httpclient|barracuda|mimecast|proofpoint|symantec|messagelabs|"
    r"forcepoint|trend ?micro|fireeye|ironport|safelinks|microsoft office protocol discovery|"
    r"googleimageproxy|yahoomailproxy|ggpht\.com|facebookexternalhit|slackbot|whatsapp|"
    r"skypeuripreview|linkedinbot|discordbot",
    re.IGNORECASE,
)
# Browsers announce speculative fetches (link prefetch, prerender) in these headers.
_PREFETCH_HEADERS = ("Purpose", "X-Purpose", "Sec-Purpose", "X-Moz")


def automated(user_agent: str, headers: Mapping[str, str]) -> str:
    """Why the request looks automated ("user agent", "prefetch", "no user agent"), or ""."""
    for name in _PREFETCH_HEADERS:
        if (
            "prefetch" in headers.get(name, "").lower()
            or "preview" in headers.get(name, "").lower()
        ):
            return "prefetch"
    if not user_agent.strip():
        return "no user agent"
    if _AGENTS.search(user_agent):
        return "user agent"
    return ""
