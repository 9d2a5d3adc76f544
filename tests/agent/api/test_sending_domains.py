"""SendingDomains over gRPC against a real agent: a DKIM key made on the agent signs from the
next message on, the records to publish, and the DNS check against the local DNS stand-in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from mailfleet.agent.client import AgentClient
from mailfleet.v1 import admin_pb2, sending_domains_pb2, smtp_users_pb2
from tests.agent.builders import relay_config, transactional
from tests.peers.agent import AgentProcess
from tests.peers.dkimverify import mail_dkim
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink

OK = sending_domains_pb2.DNS_VERDICT_STATUS_OK
MISSING = sending_domains_pb2.DNS_VERDICT_STATUS_MISSING
WARN = sending_domains_pb2.DNS_VERDICT_STATUS_WARN


def code(call: Callable[[], object]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value.code()


def test_a_key_made_over_the_api_signs_the_next_message_and_dns_check_judges_it(
    tmp_path: Path, local_dns: LocalDns
) -> None:
    with SmtpSink() as sink:
        config = relay_config(sink) + f'\n[routing]\nresolvers = ["127.0.0.1:{local_dns.port}"]\n'
        agent = AgentProcess(tmp_path / "agent", extra_config=config)
        agent.start()
        try:
            with AgentClient(agent.pairing) as client:
                # Not a sending domain yet: nothing to make a key for.
                assert code(lambda: client.generate_dkim_key("shop.example")) == (
                    grpc.StatusCode.NOT_FOUND
                )
                listed = client.add_sending_domain("Shop.Example")
                assert [s.signs for s in listed.statuses] == [False]
                made = client.generate_dkim_key("shop.example", selector="s1")
                assert made.status.signs and [k.selector for k in made.status.keys] == ["s1"]
                assert made.record.name == "s1._domainkey.shop.example"
                assert made.record.value.startswith("v=DKIM1; k=rsa; p=")
                assert code(lambda: client.generate_dkim_key("shop.example", "s1")) == (
                    grpc.StatusCode.ALREADY_EXISTS
                )
                assert client.sending_domains().statuses[0].signs

                records = client.dns_records("shop.example")
                assert [(r.purpose, r.name) for r in records] == [
                    ("DKIM", "s1._domainkey.shop.example"),
                    ("SPF", "shop.example"),
                    ("DMARC", "_dmarc.shop.example"),
                ]
                assert records[0].value == made.record.value
                assert records[1].note  # a relay's SPF is the relay's to name

                before = {v.check: v for v in client.check_dns("shop.example")}
                assert before["DKIM s1"].status == MISSING
                assert before["DKIM s1"].publish.startswith("s1._domainkey.shop.example  TXT")
                assert before["SPF"].status == MISSING and before["DMARC"].status == MISSING

                local_dns.add_txt(made.record.name, made.record.value)
                local_dns.add_txt("shop.example", "v=spf1 ip4:127.0.0.1 -all")
                local_dns.add_txt("_dmarc.shop.example", "v=DMARC1; p=quarantine")
                after = {v.check: v for v in client.check_dns("shop.example")}
                assert after["DKIM s1"].status == OK and after["DKIM s1"].publish == ""
                assert after["DMARC"].status == OK
                assert after["SPF"].status == WARN  # no sending address of its own to check

                # The workers were replaced: the very next message is signed with the new key.
                req = transactional("after-key")
                req.sender.from_address = "orders@shop.example"
                client.stubs.transactional.SendMessage(req, timeout=30)
                [received] = sink.wait_for(1, timeout=60)
        finally:
            agent.close()
    assert mail_dkim(received.data, local_dns, tmp_path) == {"rsa-sha256": "pass"}


def test_only_admin_keys_may_manage_keys_and_only_for_their_tenants_domains(
    agent_process: AgentProcess,
) -> None:
    admin = agent_process.stubs()
    tenant = admin.admin.CreateTenant(admin_pb2.CreateTenantRequest(name="acme"), timeout=5)
    made = admin.admin.CreateApiKey(
        admin_pb2.CreateApiKeyRequest(tenant_id=tenant.id, name="plain"), timeout=5
    )
    admin.smtp_users.AddSendingDomain(
        smtp_users_pb2.SendingDomainRequest(tenant_id=tenant.id, domain="acme.example"), timeout=5
    )
    plain = agent_process.stubs(made.secret)
    ref = sending_domains_pb2.DomainRef(domain="acme.example")
    assert code(lambda: plain.sending_domains.GetDnsRecords(ref, timeout=5)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    # The admin's own tenant does not have the domain; naming acme's tenant does.
    assert code(lambda: admin.sending_domains.GetDnsRecords(ref, timeout=5)) == (
        grpc.StatusCode.NOT_FOUND
    )
    theirs = sending_domains_pb2.DomainRef(tenant_id=tenant.id, domain="acme.example")
    records = admin.sending_domains.GetDnsRecords(theirs, timeout=5).records
    assert [r.purpose for r in records] == ["SPF", "DMARC"]  # no key yet
    bad = sending_domains_pb2.GenerateDkimKeyRequest(
        tenant_id=tenant.id, domain="acme.example", selector="no dots.."
    )
    assert code(lambda: admin.sending_domains.GenerateDkimKey(bad, timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    ed = sending_domains_pb2.GenerateDkimKeyRequest(
        tenant_id=tenant.id, domain="acme.example", algorithm="ed25519"
    )
    reply = admin.sending_domains.GenerateDkimKey(ed, timeout=30)
    assert reply.status.keys[0].algorithm == "ed25519-sha256"
    assert reply.status.keys[0].selector.startswith("mf20")
    assert reply.record.value.startswith("v=DKIM1; k=ed25519; p=")
