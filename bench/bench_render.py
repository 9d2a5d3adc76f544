"""Render and DKIM-sign rates on one core: the worker's fast path against the obvious one.

The message: a ~6 KB HTML + ~1.3 KB text campaign with 10 merge fields, personalised per
recipient; RSA-2048 relaxed/relaxed signatures. Each figure is messages per CPU second on
one core, the median of 3 runs.
The obvious path renders the same Jinja2 templates, builds an ``EmailMessage`` and signs
with ``dkim.sign`` (which parses the PEM key and does RSA in pure Python on every call).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from mailfleet.agent.dkim.keys import generate_key, load_keys
from mailfleet.agent.dkim.signer import DkimSigner
from mailfleet.agent.model import Content, Sender
from mailfleet.agent.render.message import Renderer
from mailfleet.agent.render.templates import compile_template

RUNS = 3
N = int(os.environ.get("BENCH_RENDER_N", "2000"))
N_SLOW = max(N // 10, 20)
FIELDS = [
    "first_name",
    "last_name",
    "city",
    "plan",
    "renewal",
    "points",
    "coupon",
    "store",
    "manager",
    "ref",
]
_PARA = (
    '<p style="margin:0 0 12px;font-family:Arial,sans-serif;font-size:15px;line-height:22px;'
    'color:#333">Our spring collection has arrived with fresh colours, lighter fabrics and a '
    "few surprises we think you will love. Take a look before your sizes are gone.</p>\n"
)
HTML = (
    "<!doctype html>\n<html>\n  <head><meta charset='utf-8'><title>News</title></head>\n"
    "  <body>\n    <table width='100%'><tr><td>\n"
    "      <h1>Hello {{ first_name }} {{ last_name }}!</h1>\n"
    "      <p>Your {{ plan }} plan renews on {{ renewal }}; you have {{ points }} points.</p>\n"
    + _PARA
    * 20
    + "      <p>Use coupon <b>{{ coupon }}</b> at {{ store }} in {{ city }}.</p>\n"
    "      <p>{{ manager }}</p>\n"
    "      <a href='https://shop.example/r?ref={{ ref }}&amp;u={{ email }}'>Shop now</a>\n"
    "    </td></tr></table>\n  </body>\n</html>\n"
)
TEXT = (
    "Hello {{ first_name }} {{ last_name }}!\n\n"
    "Your {{ plan }} plan renews on {{ renewal }}; you have {{ points }} points.\n\n"
    + "Our spring collection has arrived with fresh colours, lighter fabrics and more.\n"
    * 12
    + "Use coupon {{ coupon }} at {{ store }} in {{ city }}.\n{{ manager }}\n"
    "https://shop.example/r?ref={{ ref }}\n"
)
CONTENT = Content(subject="{{ first_name }}, your {{ plan }} spring news", html=HTML, text=TEXT)
SENDER = Sender("news@shop.example", "Shop News")
UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://shop.example/u/{{ ref }}>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}
SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version"]


def _fields(i: int) -> dict[str, str]:
    return {name: f"{name}-{i}" for name in FIELDS}


def _rate(count: int, work: Callable[[int], object]) -> float:
    """Median messages per CPU second over :data:`RUNS` runs of ``count`` calls.

    CPU time, not wall time: the work is single-threaded, and on a shared machine the wall
    clock measures the neighbours too.
    """
    rates = []
    for _ in range(RUNS):
        began = time.process_time()
        for i in range(count):
            work(i)
        rates.append(count / (time.process_time() - began))
    return statistics.median(rates)


def _obvious(pem: bytes) -> Callable[[int], bytes]:
    """Render with the same templates, build an EmailMessage, sign with ``dkim.sign``."""
    subject = compile_template(CONTENT.subject, html=False)
    html = compile_template(HTML, html=True)
    text = compile_template(TEXT, html=False)

    def work(i: int) -> bytes:
        variables = {**_fields(i), "email": f"user{i}@example.com", "name": f"User {i}"}
        msg = EmailMessage(policy=SMTP)
        msg["From"] = "Shop News <news@shop.example>"
        msg["To"] = f"User {i} <user{i}@example.com>"
        msg["Subject"] = subject.render(variables)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="mx.shop.example")
        msg.set_content(text.render(variables))
        msg.add_alternative(html.render(variables), subtype="html")
        raw = msg.as_bytes()
        signature: bytes = dkim.sign(
            raw,
            b"bench",
            b"shop.example",
            pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=SIGNED_HEADERS,
        )
        return signature + raw

    return work


def main() -> None:
    """Print the figures."""
    renderer = Renderer("mx.shop.example", timeout_seconds=5.0, max_bytes=10_000_000)

    def render(i: int) -> bytes:
        return renderer.render(
            message_id=i,
            sender=SENDER,
            content=CONTENT,
            to_email=f"user{i}@example.com",
            to_name=f"User {i}",
            fields=_fields(i),
            extra_headers=UNSUBSCRIBE,
        )

    with tempfile.TemporaryDirectory() as tmp:
        dkim_dir = Path(tmp)
        generate_key(dkim_dir, "shop.example", "bench", "rsa")
        signer = DkimSigner(load_keys(dkim_dir))
        pem = (dkim_dir / "shop.example" / "bench.rsa.pem").read_bytes()
        sample = render(0)
        render_rate = _rate(N, render)
        (key,) = load_keys(dkim_dir)
        assert isinstance(key.private_key, rsa.RSAPrivateKey)
        private = key.private_key
        digest = b"\x00" * 32
        rsa_rate = _rate(
            N // 2, lambda i: private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        )
        sign_rate = _rate(N // 2, lambda i: signer.sign(sample))
        both_rate = _rate(N // 2, lambda i: signer.sign(render(i)))
        obvious_rate = _rate(N_SLOW, _obvious(pem))
    print(f"message: {len(sample)} bytes (HTML + text, 10 merge fields)")
    print(f"messages per CPU second on one core, median of {RUNS} runs:")
    print(f"render only (Renderer):            {render_rate:8.0f} msgs/s")
    print(f"RSA-2048 signature alone (OpenSSL):{rsa_rate:8.0f} /s  (the signer's ceiling)")
    print(f"RSA-2048 sign only (DkimSigner):   {sign_rate:8.0f} msgs/s")
    print(f"render + sign:                     {both_rate:8.0f} msgs/s")
    print(f"EmailMessage + dkim.sign:          {obvious_rate:8.0f} msgs/s")
    print(f"fast path / obvious path:          {both_rate / obvious_rate:8.1f} x")
