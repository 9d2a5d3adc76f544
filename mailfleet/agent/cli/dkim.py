"""``mailfleet-agent dkim generate DOMAIN --selector S``: create a key, print its DNS record."""

from __future__ import annotations

import sys

from mailfleet.agent.config import AgentSettings
from mailfleet.agent.dkim.keys import Algorithm, DkimKeyError, generate_key


def generate(settings: AgentSettings, domain: str, selector: str, algorithm: Algorithm) -> int:
    """Write the key under ``settings.dkim_dir``; print the TXT record; return the exit code.

    The record goes to stdout (``NAME  "VALUE"``) so it can be piped; notes go to stderr.
    The agent loads keys at start-up, so a running agent needs a restart to sign with it.
    """
    try:
        record = generate_key(settings.dkim_dir, domain, selector, algorithm)
    except DkimKeyError as exc:
        print(f"mailfleet-agent: {exc}", file=sys.stderr)
        return 1
    print(
        f"DKIM {algorithm} key written under {settings.dkim_dir}; publish this TXT record, "
        "then restart the agent:",
        file=sys.stderr,
    )
    print(record.zone_line())
    return 0
