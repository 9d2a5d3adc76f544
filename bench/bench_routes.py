"""Route throughput: messages per second from one worker's event loop into local stand-ins.

No rendering and no DKIM (the route alone):

- Postfix's ``smtp-sink`` on 127.0.0.1, which answers at once: the relay route's CPU cost.
- The test sink (aiosmtpd, in its own process) answering every command after 100 ms, as
  distant servers do: what hundreds of concurrent connections buy.
- Routing rules: the cost of picking a route among 50 rules, per message.
- ESP routes (SES v2 with SigV4 signing, Mailgun messages.mime) against the local stand-in of
  the provider's API in its own process: HTTP requests per second and client CPU per message.

``BENCH_ROUTES_MESSAGES`` sets the count of the first case (default 20,000 of about 6 KB).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import shutil
import subprocess
import time
from multiprocessing.synchronize import Event
from typing import Any

from mailfleet.agent.routes.base import Envelope, OutcomeKind
from mailfleet.agent.routes.esp.base import EspRoute
from mailfleet.agent.routes.esp.mailgun import Mailgun
from mailfleet.agent.routes.esp.ses import Ses
from mailfleet.agent.routes.settings import (
    DestinationLimits,
    MailgunRoute,
    SesRoute,
    SmtpRelayRoute,
)
from mailfleet.agent.routes.smtp_relay import SmtpRelay
from mailfleet.agent.routing.rules import MessageFacts, RoutingTable, choose
from mailfleet.agent.routing.settings import RoutingRule
from tests.peers.esp import Provider, ProviderStandIn
from tests.peers.smtp import SmtpSink, free_port

MESSAGES = int(os.environ.get("BENCH_ROUTES_MESSAGES", "20000"))
SLOW_MESSAGES = 5000
ESP_MESSAGES = int(os.environ.get("BENCH_ROUTES_ESP_MESSAGES", "3000"))
SLOW_REPLY_SECONDS = 0.1
BATCH = 500
# About 6 KB of 72-character lines (SMTP caps lines at 998 octets).
BODY = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n" * 80


def _envelopes(count: int) -> list[Envelope]:
    return [
        Envelope(
            i,
            "bounce@sender.test",
            f"user{i}@example.test",
            f"From: <news@sender.test>\r\nTo: <user{i}@example.test>\r\nSubject: n{i}\r\n"
            f"Message-ID: <{i}@sender.test>\r\n\r\n".encode()
            + BODY,
        )
        for i in range(count)
    ]


async def _run(port: int, connections: int, envelopes: list[Envelope]) -> tuple[float, int]:
    settings = SmtpRelayRoute(
        host="127.0.0.1",
        port=port,
        tls="none",
        limits=DestinationLimits(connections=connections, messages_per_connection=1000),
    )
    route = SmtpRelay("bench", settings, helo="bench.test")
    batches = [envelopes[i : i + BATCH] for i in range(0, len(envelopes), BATCH)]
    started = time.perf_counter()
    # Several batches in flight at once, as a worker would hand them over.
    results = await asyncio.gather(*(route.deliver(b) for b in batches))
    elapsed = time.perf_counter() - started
    await route.close()
    delivered = sum(o.kind is OutcomeKind.DELIVERED for r in results for o in r)
    return elapsed, delivered


def _measure(label: str, port: int, connections: int, envelopes: list[Envelope]) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    elapsed, delivered = asyncio.run(_run(port, connections, envelopes))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    print(
        f"{label}, {connections} connections: {delivered}/{len(envelopes)} delivered in "
        f"{elapsed:.2f} s = {delivered / elapsed:,.0f} msgs/s, "
        f"client CPU {cpu / max(delivered, 1) * 1e6:.0f} us/msg",
        flush=True,
    )


def _slow_sink(port: int, ready: Event, done: Event) -> None:
    """Run the test sink with delayed replies until ``done`` is set (in a child process)."""
    with SmtpSink(port=port, reply_delay=SLOW_REPLY_SECONDS, keep_data=False):
        ready.set()
        done.wait()


def _rules() -> None:
    rules = [
        RoutingRule(name=f"r{i}", recipient_domains=[f"*.d{i}.test"], tags=[f"t{i}"], route="x")
        for i in range(49)
    ]
    rules.append(RoutingRule(name="last", recipient_domains=["*"], route="y"))
    table = RoutingTable(tuple(rules), "capture")
    facts = [
        MessageFacts("default", "shop.example", f"user{i}.example.com", ("autumn",), False)
        for i in range(20_000)
    ]
    started = time.perf_counter()
    chosen = [choose(table, f).route for f in facts]
    elapsed = time.perf_counter() - started
    assert set(chosen) == {"y"}  # every message falls through 49 rules to the last
    print(f"routing rules: 50 rules, {elapsed / len(facts) * 1e6:.1f} us per message", flush=True)


def _provider(provider: Provider, port_box: Any, ready: Event, done: Event) -> None:
    """Run a provider stand-in until ``done`` is set (in a child process)."""
    with ProviderStandIn(provider, "bench-key") as standin:
        port_box.value = standin.port
        ready.set()
        done.wait()


async def _run_esp(route: EspRoute[Any], envelopes: list[Envelope]) -> tuple[float, int]:
    batches = [envelopes[i : i + BATCH] for i in range(0, len(envelopes), BATCH)]
    started = time.perf_counter()
    results = [await route.deliver(b) for b in batches]
    elapsed = time.perf_counter() - started
    await route.close()
    return elapsed, sum(o.kind is OutcomeKind.DELIVERED for r in results for o in r)


def _esp(provider: Provider, count: int) -> None:
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    port_box = context.Value("i", 0)
    child = context.Process(target=_provider, args=(provider, port_box, ready, done))
    child.start()
    try:
        ready.wait(30)
        url = f"http://127.0.0.1:{port_box.value}"
        common: dict[str, Any] = {"api_key_file": "-", "base_url": url, "connections": 32}
        route: EspRoute[Any]
        if provider == "ses":
            settings = SesRoute(region="eu-west-1", access_key_id="AKIDEXAMPLE", **common)
            route = Ses("ses", settings, "bench-key")
        else:
            route = Mailgun("mg", MailgunRoute(domain="mg.bench.test", **common), "bench-key")
        before = resource.getrusage(resource.RUSAGE_SELF)
        elapsed, delivered = asyncio.run(_run_esp(route, _envelopes(count)))
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        print(
            f"{provider} route -> local stand-in, 32 connections: {delivered}/{count} delivered "
            f"in {elapsed:.2f} s = {delivered / elapsed:,.0f} msgs/s, "
            f"client CPU {cpu / max(delivered, 1) * 1e6:.0f} us/msg",
            flush=True,
        )
    finally:
        done.set()
        child.join(30)


def main() -> None:
    """Print msgs/s and CPU per message of the relay route, the rules and the ESP routes."""
    sink_binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if os.path.exists(sink_binary):
        port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        sink = subprocess.Popen([sink_binary, *user, f"127.0.0.1:{port}", "1024"])
        try:
            time.sleep(0.3)
            envelopes = _envelopes(MESSAGES)
            for connections in (10, 50):
                _measure("relay route -> smtp-sink", port, connections, envelopes)
        finally:
            sink.terminate()
            sink.wait()
    else:
        print("smtp-sink not installed (Debian package postfix); first case skipped")

    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    port = free_port()
    child = context.Process(target=_slow_sink, args=(port, ready, done))
    child.start()
    try:
        ready.wait(30)
        label = f"relay route -> sink replying after {SLOW_REPLY_SECONDS * 1000:.0f} ms"
        _measure(label, port, 500, _envelopes(SLOW_MESSAGES))
    finally:
        done.set()
        child.join(30)
    _rules()
    for provider in ("ses", "mailgun"):
        _esp(provider, ESP_MESSAGES)
