"""Signup form speed: visitors posting the hosted form (/f/FORM_ID) while a campaign sends.

Each accepted post is durable before its answer (its signup, consent record, change and
confirmation mail in one group-committed, fsync'd write), as on a real agent. 32 clients
post at once from 127.0.0.1 (the per-address budgets are raised for the run), while a
capture-route campaign of BENCH_SIGNUP_CAMPAIGN recipients (default 50000), throttled to
1,000 a second so that it is still sending at the end, goes out. The
figure is signups accepted per second, from the first post to the last answer, checked
against the store. Size: BENCH_SIGNUP_POSTS (default 3000).
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from mailfleet.agent import client
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.v1 import campaigns_pb2, common_pb2, signups_pb2

POSTS = int(os.environ.get("BENCH_SIGNUP_POSTS", "3000"))
CAMPAIGN = int(os.environ.get("BENCH_SIGNUP_CAMPAIGN", "50000"))
CLIENTS = 32
SENDER = common_pb2.Sender(from_name="Shop", from_address="news@shop.example")
CONFIG = "[signup]\nmin_fill_seconds = 0\nposts_per_minute = 100000\n"


def _recipients(campaign_id: int) -> Iterator[campaigns_pb2.RecipientBatch]:
    for start in range(0, CAMPAIGN, 5000):
        batch = campaigns_pb2.RecipientBatch(campaign_id=campaign_id)
        if start == 0:
            batch.field_names.append("first_name")
        for i in range(start, min(start + 5000, CAMPAIGN)):
            batch.recipients.append(
                common_pb2.Recipient(email=f"r{i}@d{i % 50}.example", values=[f"Ada{i}"])
            )
        yield batch


def _start_campaign(stubs: AgentStubs) -> campaigns_pb2.CampaignRef:
    c = stubs.campaigns.CreateCampaign(
        campaigns_pb2.CreateCampaignRequest(
            name="bench",
            idempotency_key="bench",
            sender=SENDER,
            content=common_pb2.Content(subject="Hi {{ first_name }}", text="Our offers.\n"),
            throttle_per_minute=60_000,
        )
    )
    stubs.campaigns.UploadRecipients(_recipients(c.id))
    ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
    stubs.campaigns.StartCampaign(ref)
    return ref


async def _post_all(url: str) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as page:
            match = re.search(r'name=t value="([0-9a-f]+)"', await page.text())
        assert match is not None, "the form page has no time token"
        token = match.group(1)
        queue = iter(range(POSTS))

        async def visitor() -> None:
            for i in queue:
                data = {"email": f"visitor{i}@people.example", "first_name": f"V{i}", "t": token}
                async with session.post(url, data=data) as reply:
                    await reply.read()
                    statuses[reply.status] = statuses.get(reply.status, 0) + 1

        began = time.monotonic()
        await asyncio.gather(*(visitor() for _ in range(CLIENTS)))
        return time.monotonic() - began, statuses


def main() -> None:
    """Print the signup form's accepted rate while a campaign sends."""
    os.environ["MAILFLEET_HTTP__RATE_LIMIT_PER_MINUTE"] = "10000000"
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        workdir = Path(tmp)
        http_listen = f"127.0.0.1:{free_port()}"
        agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}", CONFIG, http_listen)
        agent.start(workdir / "agent.log")
        try:
            with client.channel(agent.pairing) as ch:
                stubs = AgentStubs.on(ch)
                form = signups_pb2.Form(
                    form_id="bench-form",
                    title="Newsletter",
                    lists=[signups_pb2.FormList(list_id="news", name="News")],
                    fields=[
                        signups_pb2.FormField(
                            name="first_name", label="First name", type=signups_pb2.FIELD_TYPE_TEXT
                        )
                    ],
                    sender=SENDER,
                    daily_cap=POSTS,
                )
                url = stubs.signups.PutForm(signups_pb2.PutFormRequest(form=form)).url
                ref = _start_campaign(stubs)
                elapsed, statuses = asyncio.run(_post_all(url))
                sending = (
                    stubs.campaigns.GetCampaign(ref).state == campaigns_pb2.CAMPAIGN_STATE_RUNNING
                )
            db = sqlite3.connect(f"file:{workdir / 'agent' / 'agent.db'}?mode=ro", uri=True)
            stored = db.execute("SELECT count(*) FROM signups").fetchone()[0]
            db.close()
            if stored != POSTS or statuses != {200: POSTS}:
                raise RuntimeError(f"{stored} of {POSTS} signups stored; answers {statuses}")
        finally:
            agent.stop()
    beside = "while a campaign sends" if sending else "(the campaign had ended before the posts)"
    print(
        f"signup form, {POSTS:,} posts from {CLIENTS} clients {beside}: "
        f"{POSTS / elapsed:,.0f} signups/s accepted durably (goal ≥ 300)"
    )
