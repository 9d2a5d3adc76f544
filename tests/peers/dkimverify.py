"""An independent DKIM verifier for tests: Perl's Mail::DKIM (Debian's libmail-dkim-perl),
asking the local DNS answer source for the public keys."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.peers.agent import agent_command
from tests.peers.dns import LocalDns

VERIFY_PL = r"""
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS::Resolver;

my $port = shift @ARGV;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
    nameservers => ['127.0.0.1'], port => $port, recurse => 0, retry => 1,
    udp_timeout => 5, tcp_timeout => 5));
my $dkim = Mail::DKIM::Verifier->new();
binmode STDIN;
while (<STDIN>) { $dkim->PRINT($_); }
$dkim->CLOSE;
foreach my $sig ($dkim->signatures) {
    printf "%s %s %s\n", $sig->selector, $sig->algorithm, $sig->result_detail;
}
"""


def mail_dkim(message: bytes, dns: LocalDns, tmp_path: Path) -> dict[str, str]:
    """Mail::DKIM's result per algorithm, e.g. ``{"rsa-sha256": "pass"}``."""
    script = tmp_path / "verify.pl"
    script.write_text(VERIFY_PL)
    out = subprocess.run(
        ["perl", str(script), str(dns.port)],
        input=message,
        capture_output=True,
        check=True,
        timeout=60,
    )
    results = {}
    for line in out.stdout.decode().splitlines():
        _selector, algorithm, result = line.split(" ", 2)
        results[algorithm] = result
    return results


def publish_key(config: Path, domain: str, selector: str, dns: LocalDns) -> None:
    """Make the agent's DKIM key for ``domain`` with its CLI and publish it in ``dns``."""
    generated = subprocess.run(
        [
            *agent_command(),
            "dkim",
            "generate",
            domain,
            "--selector",
            selector,
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    name, _, value = generated.stdout.strip().partition(" ")
    dns.add_txt(name.strip(), value.strip().strip('"'))
