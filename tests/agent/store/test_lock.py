"""One agent per data directory: a second ``serve`` on the same store is refused at once."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from collections.abc import Callable

from mailfleet.agent.client.localagent import free_port
from mailfleet.v1 import campaigns_pb2
from tests.agent.builders import batches, campaign_request, recipients, relay_config, wait_until
from tests.peers.agent import AgentProcess, agent_command
from tests.peers.smtp import SmtpSink

TOTAL = 300


def test_a_second_agent_on_the_same_data_directory_exits_naming_the_first_and_sends_nothing(
    agent_factory: Callable[[str], AgentProcess],
) -> None:
    with SmtpSink(reply_delay=0.02) as sink:  # slow: the campaign is still going when #2 starts
        first = agent_factory(relay_config(sink))
        stubs = first.stubs()
        c = stubs.campaigns.CreateCampaign(campaign_request("locked"))
        stubs.campaigns.UploadRecipients(batches(c.id, recipients(TOTAL)))
        ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
        stubs.campaigns.StartCampaign(ref)
        wait_until(lambda: len(sink.received) >= 10, 60, "delivery to begin")

        # The same config (the same data directory), on ports of its own.
        text = first.config.read_text()
        text = re.sub(
            r'(?m)^listen = "127\.0\.0\.1:\d+"',
            lambda _: f'listen = "127.0.0.1:{free_port()}"',
            text,
        )
        second_config = first.data_dir / "second.toml"
        second_config.write_text(text)
        # Generous: a refused agent exits after its start-up; one that serves never would.
        second = subprocess.run(
            [*agent_command(), "serve", "--config", str(second_config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert first.proc is not None
        assert f"pid {first.proc.pid}" in lines[0]
        assert "Traceback" not in second.stderr

        wait_until(
            lambda: (
                stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_COMPLETED
            ),
            120,
            "the first agent to finish the campaign",
        )
        assert first.proc.poll() is None
        assert stubs.campaigns.GetCampaign(ref).counts.delivered == TOTAL
        arrivals = Counter(r.rcpt_to[0] for r in sink.received)
        assert len(arrivals) == TOTAL and max(arrivals.values()) == 1
