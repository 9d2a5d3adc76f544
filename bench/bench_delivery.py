"""Delivery speed: a personalised, DKIM-signed campaign through a real agent.

Case 1: 50,000 messages (10 merge fields, ~6 KB HTML + text, RSA-2048 DKIM) through the SMTP
relay route to Postfix's smtp-sink on 127.0.0.1, beside Postfix itself relaying the same number
of same-size messages (injected with smtp-source) to the same kind of sink. While the campaign
runs, transactional messages are sent and their enqueue-to-delivery latency measured.
Case 2: the same campaign over 1,000 recipient domains through the direct-MX route (a local DNS
answers every MX with 127.0.0.1) to a sink that delays every reply by 100 ms.
Sizes: BENCH_DELIVERY_ROWS (default 50000).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc

from bench import postfix
from bench.agentproc import children, cpu_seconds, peak_rss_mib
from mailfleet.agent import client
from mailfleet.agent.client import AgentStubs
from mailfleet.agent.client.localagent import LocalAgent, free_port
from mailfleet.agent.config import load
from mailfleet.agent.dkim.keys import generate_key
from mailfleet.v1 import (
    campaigns_pb2,
    common_pb2,
    events_pb2,
    transactional_pb2,
)
from tests.peers.dns import LocalDns

ROWS = int(os.environ.get("BENCH_DELIVERY_ROWS", "50000"))
FIELDS = [f"f{i}" for i in range(10)]
DOMAIN = "shop.example"
TX_COUNT = 40

# ~6 KB of HTML: a personalised greeting and offer block (every merge field once or twice),
# then the newsletter's static body, as real campaigns are built.
HTML = (
    "<html><body><h1>Hello {{ f0 }} {{ f1 }}</h1>"
    "<p>Our autumn offers for {{ f2 }} in {{ f3 }}: your {{ f4 }} plan since {{ f5 }}, "
    "{{ f6 }} points, tier {{ f7 }}, code {{ f8 }}.</p>"
    + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>"
    * 26
    + '<p><a href="https://shop.example/offers?u={{ f9 }}">See the offers, {{ f0 }}</a></p>'
    "</body></html>"
)
TEXT = "Hello {{ f0 }} {{ f1 }}, our autumn offers for {{ f2 }}: https://shop.example/offers\n"


def _batches(campaign_id: int, domains: int) -> Iterator[campaigns_pb2.RecipientBatch]:
    for start in range(0, ROWS, 5000):
        batch = campaigns_pb2.RecipientBatch(campaign_id=campaign_id)
        if start == 0:
            batch.field_names.extend(FIELDS)
        for i in range(start, min(start + 5000, ROWS)):
            batch.recipients.append(
                common_pb2.Recipient(
                    email=f"r{i}@d{i % domains}.example",
                    name=f"Reader {i}",
                    values=[
                        f"Ada{i}",
                        f"L{i}",
                        "Lyon",
                        "FR",
                        "gold",
                        "2024",
                        str(i),
                        "B",
                        f"C{i}",
                        f"{i:08d}",
                    ],
                )
            )
        yield batch


class _LatencyProbe:
    """Sends transactional messages during the campaign and times their delivered events."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._tx = AgentStubs.on(channel).transactional
        self._events = AgentStubs.on(channel).events
        self.sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self._stop = threading.Event()

    def run(self, after_seq: int) -> None:
        watcher = threading.Thread(target=self._watch, args=(after_seq,), daemon=True)
        watcher.start()
        for i in range(TX_COUNT):
            if self._stop.wait(0.15):
                break
            began = time.time()
            reply = self._tx.SendMessage(
                transactional_pb2.SendMessageRequest(
                    idempotency_key=f"probe-{i}",
                    sender=common_pb2.Sender(from_address=f"o@{DOMAIN}"),
                    to=common_pb2.Recipient(email=f"probe{i}@d0.example"),
                    content=common_pb2.Content(subject="Receipt", text="Thanks"),
                )
            )
            self.sent[reply.message_id] = began

    def _watch(self, after_seq: int) -> None:
        # Batches, as the desktop follows events: one gRPC message per event of a campaign
        # sending a thousand a second costs the agent as much CPU as the deliveries.
        stream = self._events.WatchEventBatches(events_pb2.WatchEventsRequest(after_seq=after_seq))
        with contextlib.suppress(grpc.RpcError):  # the channel closes when the campaign ends
            self._follow(e for batch in stream for e in batch.events)
            # Every probe answered: the agent need not send the rest.
            stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs

    def _follow(self, stream: Iterable[events_pb2.Event]) -> None:
        for event in stream:
            if (
                event.type == events_pb2.EVENT_TYPE_MESSAGE_DELIVERED
                and event.message_id in self.sent
            ):
                self.latencies.append(
                    event.time.ToNanoseconds() / 1e9 - self.sent[event.message_id]
                )
                if len(self.latencies) >= TX_COUNT:
                    return

    def stop(self) -> None:
        self._stop.set()


def _run_campaign(
    workdir: Path, route_config: str, domains: int, probe: bool, sink_pid: int
) -> dict[str, float]:
    agent = LocalAgent(workdir / "agent", f"127.0.0.1:{free_port()}", route_config)
    generate_key(load(agent.config).dkim_dir, DOMAIN, "bench", "rsa")
    agent.start(workdir / "agent.log")
    assert agent.proc is not None
    try:
        with client.channel(agent.pairing) as ch:
            stub = AgentStubs.on(ch).campaigns
            c = stub.CreateCampaign(
                campaigns_pb2.CreateCampaignRequest(
                    name="bench",
                    idempotency_key="bench",
                    sender=common_pb2.Sender(from_name="Shop", from_address=f"news@{DOMAIN}"),
                    content=common_pb2.Content(
                        subject="{{ f0 }}, offers in {{ f2 }}", html=HTML, text=TEXT
                    ),
                )
            )
            stub.UploadRecipients(_batches(c.id, domains))
            last_seq = (
                AgentStubs.on(ch)
                .events.ListEvents(events_pb2.ListEventsRequest(limit=10000))
                .next_after_seq
            )
            pids = [agent.proc.pid, *children(agent.proc.pid)]
            cpu0, sink_cpu0 = cpu_seconds(pids), cpu_seconds([sink_pid])
            ref = campaigns_pb2.CampaignRef(campaign_id=c.id)
            began = time.monotonic()
            stub.StartCampaign(ref)
            latency = _LatencyProbe(ch)
            if probe:
                threading.Thread(target=latency.run, args=(last_seq,), daemon=True).start()
            for state in stub.WatchCampaign(ref, timeout=3600):
                final = state
            elapsed = time.monotonic() - began
            latency.stop()
            cpu = cpu_seconds(pids) - cpu0
            sink_cpu = cpu_seconds([sink_pid]) - sink_cpu0
            rss = [peak_rss_mib(p) for p in pids]
            assert final.counts.delivered == ROWS, final.counts
        result = {
            "rate": ROWS / elapsed,
            "elapsed": elapsed,
            "cpu_ms": cpu / ROWS * 1000,
            "sink_cpu_ms": sink_cpu / ROWS * 1000,
            "rss_coordinator": rss[0],
            "rss_worker_max": max(rss[1:], default=0.0),
        }
        if latency.latencies:
            lat = sorted(latency.latencies)
            result["p50"] = statistics.median(lat)
            result["p99"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return result
    finally:
        agent.stop()


def _relay_case(workdir: Path) -> dict[str, float]:
    port = free_port()
    sink = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-m", "1024", f"127.0.0.1:{port}", "1024"]
    )
    try:
        config = (
            '[delivery]\nworkers = 2\ndefault_route = "relay"\n\n'
            f'[routes.relay]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n'
            "[routes.relay.limits]\nconnections = 50\nmessages_per_connection = 1000\n"
        )
        return _run_campaign(workdir, config, 100, probe=True, sink_pid=sink.pid)
    finally:
        sink.terminate()
        sink.wait(10)


def _message_size() -> int:
    from mailfleet.agent.model import Content, Sender
    from mailfleet.agent.render.message import Renderer

    data = Renderer("bench.example", 2.0, 10_000_000).render(
        message_id=1,
        sender=Sender(f"news@{DOMAIN}", "Shop"),
        content=Content("{{ f0 }}, offers", HTML, TEXT),
        to_email="r1@d1.example",
        to_name="Reader 1",
        fields={f: f"value{i}" for i, f in enumerate(FIELDS)},
    )
    return len(data)


def _postfix_case(size: int) -> dict[str, float]:
    sink_port, smtpd_port = free_port(), free_port()
    sink = subprocess.Popen(
        ["smtp-sink", "-u", "nobody", "-M", str(ROWS), f"127.0.0.1:{sink_port}", "1024"]
    )
    try:
        with postfix.relaying_postfix(smtpd_port, sink_port):
            time.sleep(1.0)
            began = time.monotonic()
            subprocess.run(
                [
                    "smtp-source",
                    "-s",
                    "50",
                    "-m",
                    str(ROWS),
                    "-l",
                    str(size),
                    "-f",
                    f"news@{DOMAIN}",
                    "-t",
                    "reader@d0.example",
                    f"127.0.0.1:{smtpd_port}",
                ],
                check=True,
                capture_output=True,
            )
            injected = time.monotonic() - began
            sink.wait(3600)
            elapsed = time.monotonic() - began
        return {"rate": ROWS / elapsed, "inject_rate": ROWS / injected}
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait(10)


def _slow_mx_case(workdir: Path) -> dict[str, float]:
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "bench.delaysink", str(port), "0.1", str(ROWS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    sink.stdout.readline()
    dns = LocalDns()
    dns.start()
    try:
        for d in range(1000):
            dns.add(f"d{d}.example", "MX", f"10 mx{d}.example.")
            dns.add(f"mx{d}.example", "A", "127.0.0.1")
        config = (
            '[delivery]\nworkers = 2\ndefault_route = "mx"\nmax_in_flight = 20000\n'
            "batch_size = 2000\n\n"
            f'[routes.mx]\ntype = "mx"\nresolvers = ["127.0.0.1:{dns.port}"]\nport = {port}\n'
            'tls = "none"\n\n[limits.default]\nconnections = 4\nmessages_per_connection = 1000\n'
        )
        return _run_campaign(workdir, config, 1000, probe=False, sink_pid=sink.pid)
    finally:
        dns.stop()
        sink.kill()
        sink.wait(10)


def main() -> None:
    """Run both cases (and Postfix when installed) and print the figures."""
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-") as tmp:
        root = Path(tmp)
        ours = _relay_case(root / "relay")
        print(
            f"relay → smtp-sink, {ROWS:,} personalised DKIM-signed messages: "
            f"{ours['rate']:,.0f} msgs/s ({ours['elapsed']:.1f} s); goal ≥ 1,200"
        )
        print(
            f"  CPU {ours['cpu_ms']:.2f} ms/msg (agent + workers; the sink "
            f"{ours['sink_cpu_ms']:.2f}); peak RSS coordinator "
            f"{ours['rss_coordinator']:.0f} MiB, worker {ours['rss_worker_max']:.0f} MiB; "
            "goal < 500 MiB"
        )
        if "p50" in ours:
            print(
                f"  transactional enqueue→delivered during the campaign: p50 "
                f"{ours['p50'] * 1000:.0f} ms, p99 {ours['p99'] * 1000:.0f} ms; goal p99 < 1 s"
            )
        if postfix.available():
            size = _message_size()
            pf = _postfix_case(size)
            print(
                f"postfix → smtp-sink, {ROWS:,} messages of {size:,} bytes: {pf['rate']:,.0f}"
                f" msgs/s end to end (injection {pf['inject_rate']:,.0f} msgs/s); "
                f"mailfleet / postfix = {ours['rate'] / pf['rate']:.2f}"
            )
        else:
            print("postfix: not installed (apt-get install postfix); comparison skipped")
        slow = _slow_mx_case(root / "slow")
        print(
            f"direct MX → 1,000 domains, 100 ms per reply: {slow['rate']:,.0f} msgs/s "
            f"({slow['elapsed']:.1f} s), CPU {slow['cpu_ms']:.2f} ms/msg (the sink "
            f"{slow['sink_cpu_ms']:.2f}); goal ≥ 1,000"
        )
