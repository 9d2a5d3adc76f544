"""The From domain among the pre-send checks: whether the agents that send DKIM-sign it and
whether its DNS publishes SPF and DMARC, as the agents report and check them ("Send safety").

Each problem is a warning with its fix in plain words, never an error: the mail still goes
out, but receivers trust it less. Asks the agents, so it runs off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailfleet.desktop.agents import domains
from mailfleet.desktop.agents.registry import AgentRecord, SendingDomain
from mailfleet.desktop.services.content_checks import WARNING, Finding

ADD_IT = "Add it under Agents → Sending domains…, then publish the DNS records shown there."
MAKE_KEY = "Create its key under Agents → Sending domains… and publish the record shown there."
CHECKED = ("SPF", "DMARC")


def domain_of(from_address: str) -> str:
    """The domain of a From address, lower-cased; "" when the address has none."""
    local, at, domain = from_address.strip().rpartition("@")
    return domain.lower() if at and local else ""


def findings(records: Sequence[AgentRecord], from_address: str) -> list[Finding]:
    """What is wrong with the From domain for mail sent by ``records``; [] when it is
    DKIM-signed by each of them and publishes SPF and DMARC (or there is no From yet)."""
    domain = domain_of(from_address)
    if not domain or not records:
        return []
    states: list[tuple[AgentRecord, SendingDomain | None]] = [
        (r, next((d for d in domains.list_domains(r) if d.domain == domain), None)) for r in records
    ]
    owners = [(r, state) for r, state in states if state is not None]
    if not owners:
        said = (
            f"{domain} is not a sending domain of the chosen agents: its mail is not "
            "DKIM-signed, and its SPF and DMARC are not checked."
        )
        return [Finding(WARNING, said, ADD_IT)]
    found = []
    strangers = [r.name for r, state in states if state is None]
    if strangers:
        found.append(Finding(WARNING, f"{domain} is not a sending domain of "
                             f"{', '.join(strangers)}: its mail from there is not DKIM-signed.",
                             ADD_IT))  # fmt: skip
    unsigned = [r.name for r, state in owners if state.signs is False]
    if unsigned:
        by = f" by {', '.join(unsigned)}" if len(records) > 1 else ""
        found.append(Finding(WARNING, f"{domain} is not DKIM-signed{by}: receivers may treat "
                             "the mail as spam.", MAKE_KEY))  # fmt: skip
    if any(state.signs is None for _, state in owners):
        said = f"Whether {domain} is DKIM-signed is not reported by the agent."
        found.append(Finding(WARNING, said, "Update the agent to a version that reports it."))
    for verdict in domains.check(owners[0][0], domain):
        if verdict.check in CHECKED and verdict.missing_or_wrong:
            fix = (
                f"Publish this DNS record: {verdict.publish}"
                if verdict.publish
                else "Publish the record shown under Agents → Sending domains…"
            )
            found.append(Finding(WARNING, f"{domain} {verdict.describe()}.", fix))
    return found
