"""The List-Unsubscribe pair and the CFBL fields of a real campaign message are covered by its
DKIM signature: an independent verifier passes it, and changing or adding them fails it."""

from __future__ import annotations

import re
from pathlib import Path

import dkim
from dkim.util import parse_tag_value

from mailfleet.v1 import campaigns_pb2
from tests.agent.builders import batches, campaign_request, recipients, relay_config
from tests.peers.agent import AgentProcess
from tests.peers.dkimverify import mail_dkim, publish_key
from tests.peers.dns import LocalDns
from tests.peers.smtp import SmtpSink


def test_unsubscribe_headers_are_signed(tmp_path: Path, local_dns: LocalDns) -> None:
    with SmtpSink() as sink:
        agent = AgentProcess(tmp_path / "agent", extra_config=relay_config(sink))
        publish_key(agent.config, "shop.example", "fb", local_dns)
        agent.start()
        try:
            stubs = agent.stubs()
            c = stubs.campaigns.CreateCampaign(campaign_request("dkim"))
            stubs.campaigns.UploadRecipients(batches(c.id, recipients(1)))
            stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))
            (got,) = sink.wait_for(1, timeout=60)
        finally:
            agent.close()
    data = got.data
    assert re.search(rb"^List-Unsubscribe: <http://127\.0\.0\.1:\d+/u/[0-9a-f]+>", data, re.M)
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in data
    headers, _ = dkim.rfc822_parse(data)
    (signature,) = [v for n, v in headers if n.lower() == b"dkim-signature"]
    tags = parse_tag_value(signature.replace(b"\r\n", b""))
    signed = tags[b"h"].replace(b" ", b"").split(b":")
    assert signed.count(b"list-unsubscribe") == 2  # once more than present: none can be added
    assert signed.count(b"list-unsubscribe-post") == 2
    assert mail_dkim(data, local_dns, tmp_path) == {"rsa-sha256": "pass"}
    changed = re.sub(rb"/u/[0-9a-f]+>", b"/u/aaaaaaaaaaaaaaaaaaaaaaaa>", data, count=1)
    assert mail_dkim(changed, local_dns, tmp_path)["rsa-sha256"].startswith("fail")
    head, body = data.split(b"\r\n\r\n", 1)
    added = head + b"\r\nList-Unsubscribe: <https://evil.example/>\r\n\r\n" + body
    assert mail_dkim(added, local_dns, tmp_path)["rsa-sha256"].startswith("fail")
