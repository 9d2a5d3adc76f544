"""A local DNS answer source on 127.0.0.1, UDP and TCP on one free port, for tests.

Answers authoritatively from records added at run time; anything else is NXDOMAIN, and a
known name asked for a type it lacks gets an empty NOERROR answer::

    dns = LocalDns()
    dns.start()
    dns.add("example.test", "MX", "10 mx1.example.test.")
    dns.add("nomail.test", "MX", "0 .")                     # null MX (RFC 7505)
    dns.add("mx1.example.test", "A", "127.0.0.2")
    dns.add_txt("sel._domainkey.example.test", "v=DKIM1; k=rsa; p=...")
    resolver.nameservers, resolver.port = ["127.0.0.1"], dns.port
    dns.stop()

``add`` takes the record's text as in a zone file (TXT strings quoted); ``add_txt`` quotes a
value and splits it into 255-octet strings as a long DKIM key needs. The ``local_dns``
fixture gives a started server per test.
"""

from __future__ import annotations

import socketserver
import struct
import threading
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

_TTL = 60
# Largest UDP answer for a query without EDNS (RFC 1035); bigger ones are truncated (TC).
_UDP_CLASSIC = 512


class LocalDns:
    """The server: records, two listeners and their threads."""

    def __init__(self) -> None:
        self._records: dict[dns.name.Name, dict[dns.rdatatype.RdataType, list[str]]] = {}
        self._lock = threading.Lock()
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0
        # Every question asked, as (name, type) texts, for tests that count queries.
        self.queries: list[tuple[str, str]] = []
        self.ttl = _TTL  # of every answer from now on

    def add(self, name: str, rdtype: str, text: str) -> None:
        """Add one record, e.g. ``add("example.test", "A", "127.0.0.2")``."""
        key = dns.name.from_text(name)
        kind = dns.rdatatype.from_text(rdtype)
        # Parse now, so a malformed record fails in the test that adds it.
        dns.rrset.from_text(key, _TTL, dns.rdataclass.IN, kind, text)
        with self._lock:
            self._records.setdefault(key, {}).setdefault(kind, []).append(text)

    def add_txt(self, name: str, value: str) -> None:
        """Add a TXT record holding ``value``, split into quoted 255-octet strings."""
        data = value.encode("ascii")
        strings = [data[i : i + 255].decode("ascii") for i in range(0, len(data), 255)]
        quoted = " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)
        self.add(name, "TXT", quoted)

    def remove(self, name: str) -> None:
        """Forget every record of ``name``; it answers NXDOMAIN again."""
        with self._lock:
            self._records.pop(dns.name.from_text(name), None)

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1 (UDP and TCP) in background threads."""
        dns_server = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = dns_server.answer(data, _UDP_CLASSIC)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while header := self.rfile.read(2):
                    if len(header) < 2:
                        return
                    (size,) = struct.unpack("!H", header)
                    reply = dns_server.answer(self.rfile.read(size), 65535)
                    if reply is None:
                        return
                    self.wfile.write(struct.pack("!H", len(reply)) + reply)

        for _ in range(20):
            udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
            port = udp.server_address[1]
            try:
                tcp = socketserver.ThreadingTCPServer(("127.0.0.1", port), Tcp)
            except OSError:
                # The port is free for UDP only; try another one.
                udp.server_close()
                continue
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        for server in (udp, tcp):
            server.daemon_threads = True
            # A short poll interval: stop() waits for the next poll of each listener.
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="local-dns",
                daemon=True,
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.port = port

    def stop(self) -> None:
        """Stop listening and wait for the threads; calling it again does nothing."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def answer(self, wire: bytes, max_size: int) -> bytes | None:
        """The reply to one query in wire format, or None for a message that is not one."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        if len(query.question) != 1:
            reply.set_rcode(dns.rcode.FORMERR)
            return reply.to_wire()
        question = query.question[0]
        with self._lock:
            self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
            known = self._records.get(question.name)
            texts = list(known.get(question.rdtype, [])) if known is not None else []
        if known is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif texts:
            reply.answer.append(
                dns.rrset.from_text(
                    question.name, self.ttl, dns.rdataclass.IN, question.rdtype, *texts
                )
            )
        if query.edns >= 0:
            max_size = max(max_size, query.payload)
        try:
            return reply.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            # Too big for UDP: an empty, truncated reply makes the client ask over TCP.
            reply.answer.clear()
            reply.flags |= dns.flags.TC
            return reply.to_wire()


@pytest.fixture
def local_dns() -> Iterator[LocalDns]:
    """A started :class:`LocalDns`, stopped after the test."""
    server = LocalDns()
    server.start()
    try:
        yield server
    finally:
        server.stop()
