"""At the default level every outcome is one INFO line whose fields say what happened, and
every line's time is RFC 3339 to the millisecond."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mailfleet.v1 import campaigns_pb2, common_pb2
from tests.agent.builders import batches, campaign_request, relay_config, wait_until
from tests.peers.agent import AgentProcess
from tests.peers.smtp import SmtpSink, defer, refuse

RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_each_outcome_is_an_info_line_with_its_fields(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        sink.rule("later@example.com", defer("451 4.7.1 Try again later"))
        sink.rule("gone@example.org", refuse("550 5.1.1 No such user"))
        agent = AgentProcess(
            tmp_path / "agent",
            extra_config=relay_config(sink, "retry_base_seconds = 3600\n"),
        )
        config = agent.config.read_text()
        assert 'level = "INFO"' in config
        agent.config.write_text(config.replace("json_lines = false", "json_lines = true"))
        agent.start()
        try:
            stubs = agent.stubs()
            c = stubs.campaigns.CreateCampaign(campaign_request("outcomes"))
            rows = [
                common_pb2.Recipient(email=e, values=["A", "B"])
                for e in ("ok@example.net", "later@example.com", "gone@example.org")
            ]
            stubs.campaigns.UploadRecipients(batches(c.id, rows))
            stubs.campaigns.StartCampaign(campaigns_pb2.CampaignRef(campaign_id=c.id))
            wait_until(lambda: agent.log().count('"status": "') >= 3, 60, "three outcomes")
        finally:
            agent.close()

    lines = [json.loads(line) for line in agent.log().splitlines() if line.startswith("{")]
    assert all(RFC3339_MS.fullmatch(line["time"]) for line in lines)
    outcomes = {line["recipient_domain"]: line for line in lines if "status" in line}
    assert set(outcomes) == {"example.net", "example.com", "example.org"}
    for line in outcomes.values():
        assert line["level"] == "INFO"
        assert line["campaign_id"] == c.id and line["tenant_id"] == 1
        assert line["route"] == "relay" and line["mx_host"] == "127.0.0.1"
        assert line["attempt"] == 1 and 0 <= line["delay_seconds"] < 60
    delivered, deferred, bounced = (
        outcomes[d] for d in ("example.net", "example.com", "example.org")
    )
    assert delivered["status"] == "delivered"
    assert delivered["message"].startswith("delivered to <ok@example.net> via relay (127.0.0.1)")
    assert (deferred["status"], deferred["enhanced_code"]) == ("deferred", "4.7.1")
    assert (bounced["status"], bounced["enhanced_code"]) == ("bounced", "5.1.1")
    assert bounced["message"].endswith("after 1 attempt: 550 5.1.1 No such user")
