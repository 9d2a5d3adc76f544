"""Are the records receivers look at for a sending domain in place, and what to publish.

SPF (does it allow the sending addresses), DKIM (is each of the agent's keys published, with
the right public key), DMARC, the PTR of each sending address (and does it point back), and
MTA-STS. Each finding says what is wrong and the record to publish. Lookups go through
dnspython; the checks themselves are pure functions of what the lookups return. Used by
``mailfleet-agent dns-check`` (mailfleet/agent/ops/dnscheck.py) and the SendingDomains API.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial

import dns.exception
import dns.resolver
import dns.reversename

from mailfleet.agent.dkim.keys import DkimKey, DnsRecord, dns_record

# RFC 7208 section 4.6.4: more DNS lookups than this make SPF a permanent error.
_SPF_LOOKUP_LIMIT = 10


class Status(Enum):
    """How one check came out."""

    OK = "ok"
    WARN = "warn"
    MISSING = "missing"
    WRONG = "wrong"


@dataclass(frozen=True)
class Finding:
    """One check's result; ``publish`` is the record that would fix it (if any)."""

    check: str
    status: Status
    detail: str
    publish: str = ""


class Lookup:
    """The DNS questions the checks ask, through one dnspython resolver."""

    def __init__(self, resolver: dns.resolver.Resolver) -> None:
        self._resolver = resolver

    def _answer(self, name: str, rdtype: str) -> list[str]:
        try:
            answer = self._resolver.resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return [r.to_text() for r in answer]

    def txt(self, name: str) -> list[str]:
        """TXT values of ``name``, each record's strings joined."""
        try:
            answer = self._resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]

    def addresses(self, name: str) -> list[str]:
        """A and AAAA addresses of ``name``."""
        return self._answer(name, "A") + self._answer(name, "AAAA")

    def mx(self, name: str) -> list[str]:
        """MX host names of ``name`` (no trailing dot)."""
        return [r.split()[-1].rstrip(".") for r in self._answer(name, "MX")]

    def ptr(self, address: str) -> list[str]:
        """PTR names of ``address`` (no trailing dot)."""
        name = dns.reversename.from_address(address).to_text()
        return [r.rstrip(".") for r in self._answer(name, "PTR")]


def spf_record_for(addresses: Sequence[str]) -> str:
    """An SPF policy allowing exactly ``addresses``."""
    mechanisms = [f"ip{ipaddress.ip_address(a).version}:{a}" for a in addresses]
    return " ".join(["v=spf1", *mechanisms, "-all"])


def dmarc_record_for(domain: str) -> str:
    """A DMARC policy to start with: monitor only, aggregate reports to the domain."""
    return f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"


class _SpfTooDeep(Exception):
    pass


def _spf_allows(
    lookup: Lookup, domain: str, address: str, budget: list[int], depth: int = 0
) -> bool | None:
    """Whether ``domain``'s SPF policy passes ``address`` (None: no policy there)."""
    records = [t for t in lookup.txt(domain) if t.lower().startswith("v=spf1")]
    if len(records) != 1:
        return None
    ip = ipaddress.ip_address(address)

    def spend() -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > _SPF_LOOKUP_LIMIT:
            raise _SpfTooDeep

    def in_any(names: list[str], cidr: str) -> bool:
        for a in names:
            net = ipaddress.ip_network(f"{a}/{cidr}" if cidr else a, strict=False)
            if ip.version == net.version and ip in net:
                return True
        return False

    redirect = ""
    for term in records[0].split()[1:]:
        qualifier = term[0] if term[0] in "+-~?" else "+"
        term = term.lstrip("+-~?").lower()
        name, _, arg = term.partition(":")
        if name.startswith("redirect="):
            redirect = name.removeprefix("redirect=")
            continue
        arg, _, cidr = arg.partition("/")
        hit: bool | None = False
        if name == "all":
            hit = True
        elif name in ("ip4", "ip6"):
            hit = in_any([arg], cidr)
        elif name.startswith(("a", "mx")) and name.split("/")[0] in ("a", "mx"):
            base, _, bare_cidr = name.partition("/")
            spend()
            target = arg or domain
            hosts = lookup.mx(target) if base == "mx" else [target]
            hit = any(in_any(lookup.addresses(h), cidr or bare_cidr) for h in hosts)
        elif name == "include":
            spend()
            hit = _spf_allows(lookup, arg, address, budget, depth + 1)
        if hit:
            return qualifier == "+"
    if redirect:
        spend()
        return _spf_allows(lookup, redirect, address, budget, depth + 1)
    return False


def check_spf(lookup: Lookup, domain: str, addresses: Sequence[str]) -> Finding:
    """One SPF record that allows every sending address."""
    records = [t for t in lookup.txt(domain) if t.lower().startswith("v=spf1")]
    if not records:
        publish = f'{domain}  TXT  "{spf_record_for(addresses)}"' if addresses else ""
        return Finding("SPF", Status.MISSING, "no SPF record", publish)
    if len(records) > 1:
        return Finding(
            "SPF", Status.WRONG, f"{len(records)} SPF records; receivers treat that as an error"
        )
    refused = []
    for address in addresses:
        try:
            allowed = _spf_allows(lookup, domain, address, [_SPF_LOOKUP_LIMIT])
        except _SpfTooDeep:
            return Finding(
                "SPF", Status.WRONG, f"more than {_SPF_LOOKUP_LIMIT} DNS lookups: {records[0]}"
            )
        if not allowed:
            refused.append(address)
    if refused:
        mechanisms = " ".join(f"ip{ipaddress.ip_address(a).version}:{a}" for a in refused)
        return Finding(
            "SPF",
            Status.WRONG,
            f"{records[0]!r} does not allow {', '.join(refused)}",
            f'{domain}  TXT  "{records[0].replace("v=spf1", f"v=spf1 {mechanisms}", 1)}"',
        )
    if not addresses:
        return Finding("SPF", Status.WARN, f"{records[0]} (no sending addresses to check)")
    return Finding("SPF", Status.OK, records[0])


def check_dkim(lookup: Lookup, expected: DnsRecord) -> Finding:
    """The key's TXT record is published with the same public key."""
    label = f"DKIM {expected.name.split('.', 1)[0]}"
    want = _tag(expected.value, "p")
    found = [t for t in lookup.txt(expected.name) if _tag(t, "p") is not None]
    publish = expected.zone_line().replace("  ", "  TXT  ", 1)
    if not found:
        return Finding(label, Status.MISSING, f"no key at {expected.name}", publish)
    if all(_tag(t, "p") != want for t in found):
        return Finding(
            label, Status.WRONG, f"{expected.name} publishes another key than the agent's", publish
        )
    return Finding(label, Status.OK, f"{expected.name} matches the agent's key")


def _tag(record: str, name: str) -> str | None:
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() == name:
            return "".join(value.split())
    return None


def check_dmarc(lookup: Lookup, domain: str) -> Finding:
    """A DMARC policy at ``_dmarc.DOMAIN``."""
    name = f"_dmarc.{domain}"
    records = [t for t in lookup.txt(name) if t.replace(" ", "").lower().startswith("v=dmarc1")]
    publish = f'{name}  TXT  "{dmarc_record_for(domain)}"'
    if not records:
        return Finding("DMARC", Status.MISSING, f"no DMARC record at {name}", publish)
    if len(records) > 1:
        return Finding("DMARC", Status.WRONG, f"{len(records)} DMARC records at {name}")
    policy = _tag(records[0], "p")
    if policy not in ("none", "quarantine", "reject"):
        return Finding("DMARC", Status.WRONG, f"no valid p= policy: {records[0]}", publish)
    if policy == "none":
        return Finding(
            "DMARC", Status.WARN, f"{records[0]} (monitoring only; move to quarantine when clean)"
        )
    return Finding("DMARC", Status.OK, records[0])


def check_ptr(lookup: Lookup, address: str, helo: str) -> Finding:
    """The address has a PTR whose name points back to it (and, ideally, is the HELO name)."""
    label = f"PTR {address}"
    names = lookup.ptr(address)
    ask = f"ask the address's provider to set its PTR to {helo or 'the HELO name'}"
    if not names:
        return Finding(label, Status.MISSING, f"no PTR record; {ask}")
    confirmed = [n for n in names if address in lookup.addresses(n)]
    if not confirmed:
        return Finding(
            label, Status.WRONG, f"{', '.join(names)} does not resolve back to {address}; {ask}"
        )
    if helo and helo.lower() not in (n.lower() for n in confirmed):
        return Finding(
            label, Status.WARN, f"{confirmed[0]}, but the agent says HELO {helo}; make them match"
        )
    return Finding(label, Status.OK, confirmed[0])


def check_mta_sts(lookup: Lookup, domain: str) -> Finding:
    """MTA-STS for mail *to* the domain: optional for sending, so missing is only a warning."""
    name = f"_mta-sts.{domain}"
    records = [t for t in lookup.txt(name) if t.replace(" ", "").lower().startswith("v=stsv1")]
    if not records:
        return Finding(
            "MTA-STS",
            Status.WARN,
            f"no {name} record (optional: it protects mail sent to {domain})",
            f'{name}  TXT  "v=STSv1; id=1"  plus the policy at '
            f"https://mta-sts.{domain}/.well-known/mta-sts.txt",
        )
    if _tag(records[0], "id") is None:
        return Finding("MTA-STS", Status.WRONG, f"{records[0]!r} has no id=")
    if not lookup.addresses(f"mta-sts.{domain}"):
        return Finding(
            "MTA-STS", Status.WRONG, f"mta-sts.{domain} has no address to serve the policy from"
        )
    return Finding("MTA-STS", Status.OK, records[0])


@dataclass(frozen=True)
class Plan:
    """What to check for one domain."""

    domain: str
    addresses: Sequence[str]
    dkim: Sequence[DnsRecord]
    helo: str = ""


def run(lookup: Lookup, plan: Plan, no_key_fix: str = "") -> list[Finding]:
    """Every check for the plan; a lookup that fails becomes a finding, not an exception.

    ``no_key_fix`` says how to make a key when the agent has none for the domain (the
    command line's way by default)."""
    checks: list[Callable[[], Finding]] = [
        partial(check_spf, lookup, plan.domain, plan.addresses),
        *[partial(check_dkim, lookup, record) for record in plan.dkim],
        partial(check_dmarc, lookup, plan.domain),
        *[partial(check_ptr, lookup, address, plan.helo) for address in plan.addresses],
        partial(check_mta_sts, lookup, plan.domain),
    ]
    findings = []
    for check in checks:
        try:
            findings.append(check())
        except dns.exception.DNSException as exc:
            findings.append(Finding("DNS", Status.WRONG, f"lookup failed: {exc}"))
    if not plan.dkim:
        findings.insert(
            1,
            Finding(
                "DKIM",
                Status.MISSING,
                f"the agent has no DKIM key for {plan.domain}",
                no_key_fix
                or f"mailfleet-agent dkim generate {plan.domain} --selector s1 --config ...",
            ),
        )
    return findings


def report(findings: Sequence[Finding]) -> str:
    """The findings as an operator reads them, one per line, fixes indented below."""
    lines = []
    for f in findings:
        lines.append(f"{f.status.value.upper():8} {f.check:16} {f.detail}")
        if f.publish and f.status is not Status.OK:
            lines.append(f"{'':8} {'':16} publish: {f.publish}")
    return "\n".join(lines)


def make_plan(domain: str, keys: Sequence[DkimKey], addresses: Sequence[str], helo: str) -> Plan:
    """What to check for ``domain`` (normalised): the agent's keys for it, the sending
    addresses (for SPF and PTR) and the HELO name the PTR should match."""
    records = [dns_record(k) for k in keys if k.domain == domain]
    return Plan(domain, list(addresses), records, helo)


@dataclass(frozen=True)
class Publish:
    """A record to publish for a sending domain, with a note for whoever publishes it."""

    purpose: str  # "DKIM", "SPF" or "DMARC"
    name: str
    value: str
    note: str = ""


def to_publish(plan: Plan) -> list[Publish]:
    """The records a sending domain should publish: each DKIM key, SPF, DMARC.

    SPF can name only the addresses this agent sends from itself (direct MX); mail through a
    relay or a provider is sent from theirs, which the note asks to include."""
    found = [Publish("DKIM", r.name, r.value) for r in plan.dkim]
    if plan.addresses:
        found.append(Publish("SPF", plan.domain, spf_record_for(plan.addresses)))
    else:
        found.append(
            Publish(
                "SPF",
                plan.domain,
                "v=spf1 mx ~all",
                "add your relay's or provider's include: mechanism before ~all; their setup "
                "page names it",
            )
        )
    found.append(Publish("DMARC", f"_dmarc.{plan.domain}", dmarc_record_for(plan.domain)))
    return found
