"""``dns-check`` against a local DNS answer source, with good and broken records."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dns.resolver
import pytest

from mailfleet.agent.config import load
from mailfleet.agent.dkim.dns_checks import Lookup, Plan, Status, check_spf, run
from mailfleet.agent.dkim.keys import dns_record, generate_key, load_keys
from tests.peers.agent import agent_command
from tests.peers.dns import LocalDns

DOMAIN = "shop.test"
IP = "192.0.2.10"
HELO = "mail.shop.test"


def lookup_on(local_dns: LocalDns) -> Lookup:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = ["127.0.0.1"], local_dns.port
    return Lookup(resolver)


@pytest.fixture
def dkim_dir(tmp_path: Path) -> Path:
    generate_key(tmp_path / "dkim", DOMAIN, "s1", "rsa")
    return tmp_path / "dkim"


def publish_good(local_dns: LocalDns, dkim_dir: Path) -> None:
    local_dns.add_txt(DOMAIN, "v=spf1 include:_spf.relay.test -all")
    local_dns.add_txt("_spf.relay.test", "v=spf1 ip4:192.0.2.0/24 ~all")
    record = dns_record(load_keys(dkim_dir)[0])
    local_dns.add_txt(record.name, record.value)
    local_dns.add_txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=quarantine; rua=mailto:d@shop.test")
    local_dns.add("10.2.0.192.in-addr.arpa", "PTR", f"{HELO}.")
    local_dns.add(HELO, "A", IP)
    local_dns.add_txt(f"_mta-sts.{DOMAIN}", "v=STSv1; id=20260101")
    local_dns.add(f"mta-sts.{DOMAIN}", "A", "192.0.2.20")


def plan(dkim_dir: Path) -> Plan:
    return Plan(DOMAIN, [IP], [dns_record(k) for k in load_keys(dkim_dir)], HELO)


def test_good_records_pass_every_check(local_dns: LocalDns, dkim_dir: Path) -> None:
    publish_good(local_dns, dkim_dir)
    findings = run(lookup_on(local_dns), plan(dkim_dir))
    assert [(f.check, f.status) for f in findings] == [
        ("SPF", Status.OK),
        ("DKIM s1", Status.OK),
        ("DMARC", Status.OK),
        (f"PTR {IP}", Status.OK),
        ("MTA-STS", Status.OK),
    ]


def test_missing_records_are_named_with_the_record_to_publish(
    local_dns: LocalDns, dkim_dir: Path
) -> None:
    local_dns.add(DOMAIN, "MX", f"10 {HELO}.")  # the domain exists, with none of the records
    by_check = {f.check: f for f in run(lookup_on(local_dns), plan(dkim_dir))}
    assert by_check["SPF"].status == Status.MISSING
    assert by_check["SPF"].publish == f'{DOMAIN}  TXT  "v=spf1 ip4:{IP} -all"'
    expected = dns_record(load_keys(dkim_dir)[0])
    assert by_check["DKIM s1"].status == Status.MISSING
    assert expected.value in by_check["DKIM s1"].publish
    assert by_check["DMARC"].status == Status.MISSING
    assert by_check["DMARC"].publish.startswith(f'_dmarc.{DOMAIN}  TXT  "v=DMARC1; p=none')
    assert by_check[f"PTR {IP}"].status == Status.MISSING
    assert HELO in by_check[f"PTR {IP}"].detail
    assert by_check["MTA-STS"].status == Status.WARN  # optional for a sending domain


def test_broken_records_are_reported_as_wrong(
    local_dns: LocalDns, dkim_dir: Path, tmp_path: Path
) -> None:
    local_dns.add_txt(DOMAIN, "v=spf1 ip4:198.51.100.7 -all")  # not our address
    other = generate_key(tmp_path / "other", DOMAIN, "s1", "rsa")  # someone else's key
    local_dns.add_txt(other.name, other.value)
    local_dns.add_txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=none")
    local_dns.add("10.2.0.192.in-addr.arpa", "PTR", "host.cloud.test.")  # no way back
    local_dns.add("host.cloud.test", "A", "203.0.113.99")
    local_dns.add_txt(f"_mta-sts.{DOMAIN}", "v=STSv1")  # no id
    by_check = {f.check: f for f in run(lookup_on(local_dns), plan(dkim_dir))}
    assert by_check["SPF"].status == Status.WRONG
    assert by_check["SPF"].publish == f'{DOMAIN}  TXT  "v=spf1 ip4:{IP} ip4:198.51.100.7 -all"'
    assert by_check["DKIM s1"].status == Status.WRONG
    assert by_check["DMARC"].status == Status.WARN
    assert by_check[f"PTR {IP}"].status == Status.WRONG
    assert by_check["MTA-STS"].status == Status.WRONG


def test_spf_edge_cases(local_dns: LocalDns) -> None:
    lookup = lookup_on(local_dns)
    local_dns.add_txt("two.test", "v=spf1 -all")
    local_dns.add_txt("two.test", "v=spf1 +all")
    assert check_spf(lookup, "two.test", [IP]).status == Status.WRONG
    local_dns.add_txt("viamx.test", "v=spf1 mx -all")
    local_dns.add("viamx.test", "MX", "10 out.viamx.test.")
    local_dns.add("out.viamx.test", "A", IP)
    assert check_spf(lookup, "viamx.test", [IP]).status == Status.OK
    local_dns.add_txt("softfail.test", f"v=spf1 ~ip4:{IP} -all")
    assert check_spf(lookup, "softfail.test", [IP]).status == Status.WRONG
    local_dns.add_txt("redirected.test", "v=spf1 redirect=_spf.redirected.test")
    local_dns.add_txt("_spf.redirected.test", f"v=spf1 a:{HELO}/24 -all")
    local_dns.add(HELO, "A", "192.0.2.1")
    assert check_spf(lookup, "redirected.test", [IP]).status == Status.OK
    for i in range(12):  # an include chain past the 10-lookup limit
        local_dns.add_txt(f"l{i}.test", f"v=spf1 include:l{i + 1}.test -all")
    assert "lookups" in check_spf(lookup, "l0.test", [IP]).detail


def test_the_command_reads_the_agent_keys_and_exits_1_on_problems(
    local_dns: LocalDns, tmp_path: Path
) -> None:
    data = tmp_path / "agent"
    subprocess.run(
        [*agent_command(), "init", "--data-dir", str(data)], check=True, capture_output=True
    )
    config = data / "agent.toml"
    subprocess.run(
        [*agent_command(), "dkim", "generate", DOMAIN, "--selector", "s1", "--config", str(config)],
        check=True,
        capture_output=True,
    )
    command = [
        *agent_command(),
        "dns-check",
        DOMAIN,
        "--config",
        str(config),
        "--ip",
        IP,
        "--nameserver",
        f"127.0.0.1:{local_dns.port}",
    ]
    bare = subprocess.run(command, capture_output=True, text=True, check=False)
    assert bare.returncode == 1, bare.stderr
    assert "MISSING  SPF" in bare.stdout and "publish:" in bare.stdout
    publish_good(local_dns, load(config).dkim_dir)
    good = subprocess.run(command, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "MISSING" not in good.stdout and "WRONG" not in good.stdout
