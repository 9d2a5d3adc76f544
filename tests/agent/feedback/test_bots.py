"""Telling scanners, proxies and prefetches from people opening and clicking."""

from __future__ import annotations

import pytest

from mailfleet.agent.feedback.bots import automated

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.mark.parametrize(
    ("user_agent", "headers", "reason"),
    [
        (FIREFOX, {}, ""),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15", {}, ""),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"
            " (via ggpht.com GoogleImageProxy)",
            {},
            "user agent",
        ),
        ("Barracuda Sentinel (EE)", {}, "user agent"),
        ("python-requests/2.32.3", {}, "user agent"),
        ("Mozilla/5.0 (compatible; bingbot/2.0)", {}, "user agent"),
        ("Mozilla/5.0 HeadlessChrome/120.0", {}, "user agent"),
        ("", {}, "no user agent"),
        (FIREFOX, {"Sec-Purpose": "prefetch"}, "prefetch"),
        (FIREFOX, {"X-Moz": "prefetch"}, "prefetch"),
    ],
)
def test_automated_requests_are_recognised(
    user_agent: str, headers: dict[str, str], reason: str
) -> None:
    assert automated(user_agent, headers) == reason
