"""A scriptable SMTP server for tests: sink, relay stand-in and MX stand-in (aiosmtpd).

Start one on loopback, point a route (or any SMTP client) at it, then look at what arrived::

    with SmtpSink() as sink:                      # 127.0.0.1, a free port, plain SMTP
        sink.rule("nobody@example.test", refuse())        # 550 5.1.1 at RCPT TO
        sink.rule("later@example.test", defer())          # 451 4.3.0 at RCPT TO
        sink.rule("big@example.test", refuse("552 5.3.4 Too big", at="data"))
        sink.rule("slow@example.test", stall(30))         # no reply to RCPT TO for 30 s
        gate = Gate()
        sink.rule("held@example.test", hold(gate, at="data"))  # no reply until gate.open()
        ...deliver to sink.host:sink.port...
        sink.wait_for(3)                                  # block until 3 messages arrived
        assert sink.duplicates() == []

``SmtpSink(host="127.0.0.1", port=0, tls="none", users=None, reply_delay=0.0,
ehlo_delay=0.0, keep_data=True, esmtp=True, pipelining=True, smtputf8=False)``:

- ``port=0`` picks a free port (read ``sink.port``);
- ``tls``: "none", "starttls", "implicit", or "broken_starttls" (offers STARTTLS whose
  handshake always fails); TLS uses a self-signed certificate made on start (``cert_file``);
- ``users`` ({name: password}) enables AUTH PLAIN/LOGIN and requires it (only after
  STARTTLS when ``tls="starttls"``);
- ``reply_delay`` delays every reply to MAIL, RCPT and DATA, ``ehlo_delay`` the reply to
  EHLO/HELO (a slow destination);
- ``keep_data=False`` keeps only each message's digest (for big runs);
- ``esmtp=False`` refuses EHLO (502), like an old server that only knows HELO;
- ``pipelining`` offers PIPELINING (RFC 2920) in the EHLO reply, as real MTAs do; aiosmtpd
  reads pipelined commands one after another either way;
- ``smtputf8`` offers SMTPUTF8 (RFC 6531) and then takes UTF-8 addresses; without it,
  aiosmtpd refuses a MAIL FROM that asks for it.

Rules (``sink.rule(address, rule)``, checked per address): ``refuse(reply, at=...)``,
``defer(reply, at=...)``, ``stall(seconds, at=...)``, ``hold(gate, at=...)`` (no reply until
the test opens the :class:`Gate`; ``gate.reached`` is set once a client waits at it) and
``accept()``; ``at`` is "mail"
(the rule is keyed by the *sender*), "rcpt" (the default) or "data" (keyed by recipient). An
address without a rule is accepted.

What it saw (safe to read from any thread): ``received`` (a list of :class:`Received`:
sender, recipients, MAIL FROM parameters, bytes, SHA-256, session number, peer address,
HELO name, TLS, authenticated user, arrival time), ``count``, ``clear()``, ``sessions``
(connections that said EHLO/HELO), ``active`` and ``max_concurrent`` (sessions open at once),
``auth_failures``, ``duplicates()`` ((recipient, digest) pairs that arrived twice),
``wait_for(n, timeout)``. ``start()``/``stop()``, or use it as a context manager.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import ssl
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from mailfleet.agent.client.localagent import (
    free_port as free_port,  # tests and benches also import it here
)
from tests.peers.pki import self_signed_server

Stage = Literal["mail", "rcpt", "data"]


class Gate:
    """Where a :func:`hold` rule keeps the client waiting until the test calls :meth:`open`."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()

    def open(self) -> None:
        """Let every client waiting here (and any later one) through."""
        self._open.set()

    async def wait(self, seconds: float) -> None:
        """Wait here until the gate opens, ``seconds`` at most."""
        self.reached.set()
        await asyncio.to_thread(self._open.wait, seconds)


@dataclass(frozen=True)
class Rule:
    """What the sink does for one address: reply ``reply`` (None: accept) after ``stall`` s
    (or once ``gate`` opens)."""

    at: Stage = "rcpt"
    reply: str | None = None
    stall: float = 0.0
    gate: Gate | None = None


def accept() -> Rule:
    """Accept normally (the default for an address without a rule)."""
    return Rule()


def refuse(reply: str = "550 5.1.1 No such user", at: Stage = "rcpt") -> Rule:
    """A permanent refusal at ``at``."""
    return Rule(at=at, reply=reply)


def defer(reply: str = "451 4.3.0 Try again later", at: Stage = "rcpt") -> Rule:
    """A temporary refusal at ``at``."""
    return Rule(at=at, reply=reply)


def stall(seconds: float = 60.0, at: Stage = "rcpt") -> Rule:
    """No reply at ``at`` for ``seconds`` (then accept), to make a client time out."""
    return Rule(at=at, stall=seconds)


def hold(gate: Gate, at: Stage = "rcpt", timeout: float = 60.0) -> Rule:
    """No reply at ``at`` until ``gate`` opens (``timeout`` s at most), then accept."""
    return Rule(at=at, stall=timeout, gate=gate)


@dataclass(frozen=True)
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_to: tuple[str, ...]
    mail_options: tuple[str, ...]  # MAIL FROM's parameters, e.g. ("BODY=8BITMIME", "SMTPUTF8")
    data: bytes  # b"" when the sink was started with keep_data=False
    digest: str  # SHA-256 of the message bytes, kept either way
    session: int
    peer: str
    helo: str
    tls: bool
    user: str | None
    at: float  # time.monotonic() on arrival


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert file, key file)."""
    return self_signed_server(directory, "sink", ["localhost", "127.0.0.1"])


class _Server(SMTP):
    """aiosmtpd's server, numbering sessions so the sink can count them."""

    def __init__(self, sink: SmtpSink, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # aiosmtpd warns about AUTH without STARTTLS, which is also what implicit TLS
            # (and a deliberately plain test relay) looks like to it.
            warnings.simplefilter("ignore", UserWarning)
            super().__init__(*args, **kwargs)
        self.sink = sink
        self.number = 0

    def _greeted(self) -> None:
        # Counted at the first EHLO/HELO, not on connect: the controller's own start-up probe
        # connects without greeting and must not count as a session.
        if not self.number:
            self.number = self.sink._session_started()

    async def smtp_EHLO(self, hostname: str) -> None:
        self._greeted()
        await asyncio.sleep(self.sink.ehlo_delay)
        if not self.sink.esmtp:
            await self.push("502 5.5.1 EHLO not implemented")
            return
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname: str) -> None:
        self._greeted()
        await asyncio.sleep(self.sink.ehlo_delay)
        await super().smtp_HELO(hostname)

    def connection_lost(self, error: Exception | None) -> None:
        if self.number:
            self.sink._session_ended()
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        self.sink = sink
        super().__init__(sink, **kwargs)

    def factory(self) -> _Server:
        return _Server(self.sink, self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        # aiosmtpd's own listener keeps asyncio's backlog of 100: hundreds of clients
        # connecting at once would see SYNs dropped and retried for up to a minute.
        server: Awaitable[asyncio.AbstractServer] = self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            backlog=4096,
        )
        return server


class SmtpSink:
    """A scriptable SMTP server in a background thread; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: Literal["none", "starttls", "implicit", "broken_starttls"] = "none",
        users: dict[str, str] | None = None,
        reply_delay: float = 0.0,
        ehlo_delay: float = 0.0,
        keep_data: bool = True,
        esmtp: bool = True,
        pipelining: bool = True,
        smtputf8: bool = False,
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self.host = host
        # (cert file, key file) to present instead of a fresh self-signed one.
        self.certificate = certificate
        self.keep_data = keep_data
        self.esmtp = esmtp
        self.pipelining = pipelining
        self.smtputf8 = smtputf8
        self.port = port or free_port(host)
        self.tls = tls
        self.users = dict(users or {})
        self.reply_delay = reply_delay
        self.ehlo_delay = ehlo_delay
        self.rules: dict[str, Rule] = {}
        self.cert_file: Path | None = None
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._sessions = 0
        self._active = 0
        self._max_concurrent = 0
        self._auth_failures = 0
        self._tmp: Path | None = None
        self._controller: _Controller | None = None

    # ---- scripting and lifecycle -------------------------------------------------------

    def rule(self, address: str, rule: Rule) -> None:
        """Script the sink's answer for ``address`` (sender for "mail" rules)."""
        self.rules[address.lower()] = rule

    def start(self) -> SmtpSink:
        """Listen on ``host:port``; returns when the server answers."""
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "ready_timeout": 10,
            "enable_SMTPUTF8": self.smtputf8,
        }
        if self.tls != "none":
            self._tmp = Path(tempfile.mkdtemp(prefix="mailfleet-sink-"))
            self.cert_file, key_file = self.certificate or make_certificate(self._tmp)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_file, key_file)
            if self.tls == "broken_starttls":
                # Offers STARTTLS, but only TLS 1.0, which every current client refuses.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
            kwargs["ssl_context" if self.tls == "implicit" else "tls_context"] = context
        if self.users:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls == "starttls",
            )
        self._controller = _Controller(self, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening, drop open sessions and remove the certificate."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- what it saw ----------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every accepted message so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._received)

    @property
    def sessions(self) -> int:
        """Connections that greeted (EHLO/HELO) so far."""
        with self._lock:
            return self._sessions

    @property
    def active(self) -> int:
        """Sessions open right now."""
        with self._lock:
            return self._active

    @property
    def max_concurrent(self) -> int:
        """The most sessions ever open at once."""
        with self._lock:
            return self._max_concurrent

    @property
    def auth_failures(self) -> int:
        """AUTH attempts refused."""
        with self._lock:
            return self._auth_failures

    @property
    def count(self) -> int:
        """How many messages arrived so far (cheaper than ``len(received)``)."""
        with self._lock:
            return len(self._received)

    def clear(self) -> None:
        """Forget what arrived (the counters of sessions stay)."""
        with self._lock:
            self._received.clear()

    def reset_peak(self) -> None:
        """Start measuring ``max_concurrent`` afresh (from the sessions open now)."""
        with self._lock:
            self._max_concurrent = self._active

    def duplicates(self) -> list[tuple[str, str]]:
        """(recipient, message digest) pairs that arrived more than once."""
        seen = Counter((rcpt, r.digest) for r in self.received for rcpt in r.rcpt_to)
        return [key for key, count in seen.items() if count > 1]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least ``count`` messages arrived; raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.count} of {count} messages arrived")
            time.sleep(0.01)
        return self.received

    # ---- aiosmtpd hooks (run on the sink's own loop thread) -----------------------------

    def _session_started(self) -> int:
        with self._lock:
            self._sessions += 1
            self._active += 1
            self._max_concurrent = max(self._max_concurrent, self._active)
            return self._sessions

    def _session_ended(self) -> None:
        with self._lock:
            self._active -= 1

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if user in self.users and self.users[user] == password:
                return AuthResult(success=True, auth_data=user)
        with self._lock:
            self._auth_failures += 1
        return AuthResult(success=False, handled=False)

    async def _answer(self, address: str, stage: Stage) -> str | None:
        """Apply the address's rule at ``stage``: its reply, or None to proceed normally."""
        rule = self.rules.get(address.lower())
        if rule is None or rule.at != stage:
            return None
        if rule.gate is not None:
            await rule.gate.wait(rule.stall)
        else:
            await asyncio.sleep(rule.stall)
        return rule.reply

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.reply_delay)
        reply = await self._answer(address, "mail")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.reply_delay)
        reply = await self._answer(address, "rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.reply_delay)
        for address in envelope.rcpt_tos:
            reply = await self._answer(address, "data")
            if reply is not None:
                return reply
        peer = session.peer[0] if session.peer else ""
        data = bytes(envelope.original_content or envelope.content)
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_to=tuple(envelope.rcpt_tos),
            mail_options=tuple(envelope.mail_options),
            data=data if self.keep_data else b"",
            digest=hashlib.sha256(data).hexdigest(),
            session=server.number,
            peer=peer,
            helo=session.host_name or "",
            tls=server.transport.get_extra_info("sslcontext") is not None,
            user=session.auth_data if session.authenticated else None,
            at=time.monotonic(),
        )
        with self._lock:
            self._received.append(received)
        return f"250 2.0.0 Ok: queued as {id(received):x}"
