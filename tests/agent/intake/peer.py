"""A real agent with intake listeners on free loopback ports, and SMTP clients for it."""

from __future__ import annotations

import socket
import sqlite3
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mailfleet.agent.client.localagent import free_port
from mailfleet.agent.dkim.keys import DnsRecord, generate_key
from mailfleet.v1 import messages_pb2, smtp_users_pb2
from tests.peers.agent import AgentProcess, Stubs
from tests.peers.smtp import Received, SmtpSink

DOMAIN = "shop.example"
BOUNCE = "bounce.mailfleet.test"


@dataclass
class Ports:
    """One listener of each kind."""

    submission: int = field(default_factory=free_port)  # STARTTLS, AUTH required
    smtps: int = field(default_factory=free_port)  # implicit TLS, AUTH required
    inbound: int = field(default_factory=free_port)  # plain, AUTH optional (bounce domain)
    trusted: int = field(default_factory=free_port)  # plain, 127.0.0.1 trusted as "default"


def intake_config(ports: Ports, relay_port: int, intake: str = "", delivery: str = "") -> str:
    """TOML for an agent that relays to ``relay_port`` and listens on ``ports``."""
    return f"""
[delivery]
workers = 1
default_route = "relay"
retry_base_seconds = 1
{delivery}

[routes.relay]
type = "smtp"
host = "127.0.0.1"
port = {relay_port}
tls = "none"

[routes.capture]
type = "capture"

[intake]
bounce_domain = "{BOUNCE}"
{intake}

[[intake.listeners]]
port = {ports.submission}
tls = "starttls"

[[intake.listeners]]
port = {ports.smtps}
tls = "implicit"

[[intake.listeners]]
port = {ports.inbound}
tls = "none"
auth_required = false

[[intake.listeners]]
port = {ports.trusted}
tls = "none"
auth_required = false
trusted_networks = ["127.0.0.1/32"]
trusted_tenant = "default"
"""


class IntakeAgent:
    """An :class:`AgentProcess` with intake listeners, a sending domain and helpers."""

    def __init__(self, data_dir: Path, relay_port: int, intake: str = "", extra: str = "") -> None:
        self.ports = Ports()
        self.process = AgentProcess(
            data_dir, extra_config=intake_config(self.ports, relay_port, intake) + extra
        )
        # Submitted mail is signed like any other: a key for the sending domain.
        self.dkim: DnsRecord = generate_key(data_dir / "dkim", DOMAIN, "intake", "rsa")
        self.process.start()
        self.stubs: Stubs = self.process.stubs()
        self.stubs.smtp_users.AddSendingDomain(smtp_users_pb2.SendingDomainRequest(domain=DOMAIN))

    def user(self, username: str) -> str:
        """Create an SMTP login of the default tenant; return its password."""
        reply = self.stubs.smtp_users.CreateSmtpUser(
            smtp_users_pb2.CreateSmtpUserRequest(username=username)
        )
        return reply.password

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts exactly the agent's certificate."""
        ctx = ssl.create_default_context(cafile=str(self.process.data_dir / "tls" / "agent.crt"))
        ctx.check_hostname = False
        return ctx

    def queued(self) -> list[messages_pb2.Message]:
        """Every transactional message of the default tenant."""
        found: list[messages_pb2.Message] = []
        after = 0
        while True:
            page = self.stubs.messages.ListMessages(
                messages_pb2.ListMessagesRequest(after_id=after, limit=1000)
            ).messages
            found += page
            if len(page) < 1000:
                return found
            after = page[-1].id

    def inbound(self) -> list[tuple[str, str, str, bytes]]:
        """(peer, mail_from, rcpt_to, data) of every row in inbound_mail."""
        conn = sqlite3.connect(f"file:{self.process.data_dir / 'agent.db'}?mode=ro", uri=True)
        try:
            return list(conn.execute("SELECT peer, mail_from, rcpt_to, data FROM inbound_mail"))
        finally:
            conn.close()

    def close(self) -> None:
        """Stop the agent."""
        self.process.close()


def message(sender: str = f"app@{DOMAIN}", to: str = "rcpt@dest.example", extra: str = "") -> str:
    """A small RFC 5322 message with CRLF line ends."""
    return (
        f"From: Shop <{sender}>\r\nTo: <{to}>\r\nSubject: Your order\r\n{extra}\r\n"
        "Thank you for your order.\r\n"
    )


class RawSmtp:
    """A byte-level SMTP client, for sending what well-behaved clients never would."""

    def __init__(self, port: int, source: str = "127.0.0.1", greet: bool = True) -> None:
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=(source, 0)
        )
        self._buf = b""
        self.greeting = self.reply() if greet else ""

    def send(self, data: bytes) -> None:
        """Write raw bytes."""
        self.sock.sendall(data)

    def reply(self) -> str:
        """The next complete reply (its lines joined by newlines), or what came before EOF."""
        lines: list[bytes] = []
        while True:
            while b"\r\n" not in self._buf:
                try:
                    chunk = self.sock.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    chunk = b""
                if not chunk:
                    return b"\r\n".join(lines).decode(errors="replace")
                self._buf += chunk
            line, self._buf = self._buf.split(b"\r\n", 1)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return b"\n".join(lines).decode(errors="replace")

    def cmd(self, line: str) -> str:
        """Send one command line; return its reply."""
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self, ctx: ssl.SSLContext) -> None:
        """Upgrade the connection (after a 220 to STARTTLS)."""
        assert isinstance(self.sock, socket.socket)
        self.sock = ctx.wrap_socket(self.sock)

    def closed(self) -> bool:
        """Whether the server has closed the connection."""
        try:
            self.sock.settimeout(5)
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


@contextmanager
def raw(port: int, source: str = "127.0.0.1") -> Iterator[RawSmtp]:
    """A :class:`RawSmtp` that is closed afterwards."""
    client = RawSmtp(port, source)
    try:
        yield client
    finally:
        client.close()


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    """Poll ``predicate()`` until true."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def delivered(sink: SmtpSink, rcpts: set[str], timeout: float = 30.0) -> list[Received]:
    """Wait until the sink has received mail for every one of ``rcpts``; return those."""
    wait_for(lambda: rcpts <= {r for m in sink.received for r in m.rcpt_to}, timeout)
    return [m for m in sink.received if set(m.rcpt_to) & rcpts]
