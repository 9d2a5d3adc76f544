"""The worker's renderer: templates and one recipient's merge fields to RFC 5322 bytes."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from jinja2 import Template

from mailfleet.agent.model import Content, Sender
from mailfleet.agent.render import mime
from mailfleet.agent.render.limits import RenderTimeout, run_capped
from mailfleet.agent.render.mime import RenderError
from mailfleet.agent.render.templates import TemplateError, compile_template
from mailfleet.agent.render.text import html_to_text

__all__ = ["RenderError", "Renderer"]

# Header fields the renderer writes itself; custom headers may not repeat them.
_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "reply-to",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
# Compiled templates kept per worker: a campaign's few sources are rendered thousands of times.
_CACHE_SIZE = 1024
_NO_HEADERS: Mapping[str, str] = {}


class _Budget:
    """Characters one message may still produce (bytes are checked once it is assembled)."""

    def __init__(self, left: int) -> None:
        self.left = left


class Renderer:
    """Renders messages on a worker's main thread; build one per worker and keep it.

    ``timeout_seconds`` and ``max_bytes`` cap one message's rendering; passing either fails
    only that message, with :class:`RenderError`.
    """

    def __init__(self, hostname: str, timeout_seconds: float, max_bytes: int) -> None:
        self._hostname = hostname
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes
        self._templates: dict[tuple[str, bool], Template] = {}
        self._date_second = -1
        self._date = ""

    def render(
        self,
        *,
        message_id: int,
        sender: Sender,
        content: Content,
        to_email: str,
        to_name: str,
        fields: Mapping[str, str],
        extra_headers: Mapping[str, str] = _NO_HEADERS,
        agent_headers: Sequence[tuple[str, str]] = (),
        agent_variables: Mapping[str, str] = _NO_HEADERS,
        html_filter: Callable[[str], str] | None = None,
    ) -> bytes:
        """The complete message with CRLF line ends, ready for SMTP DATA (not dot-stuffed).

        Merge variables are ``fields`` plus ``email`` and ``name`` (the recipient's, which win
        over fields of the same name). Subject, bodies, ``content.headers`` and
        ``extra_headers`` values are templates; an extra header replaces a content header of
        the same name (any case). The text part is the text template's output, or else text
        derived from the HTML; with both, the message is multipart/alternative.

        ``agent_headers`` are added as they are (not templates) and replace template headers
        of the same name; ``agent_variables`` (e.g. ``unsubscribe_url``) win over every
        merge field; ``html_filter`` rewrites the rendered HTML part (tracking), after the
        text part was derived from it.
        """
        variables = {**fields, "email": to_email, "name": to_name, **agent_variables}
        headers = {name.lower(): (name, value) for name, value in content.headers.items()}
        headers.update((name.lower(), (name, value)) for name, value in extra_headers.items())
        for name, _ in agent_headers:
            headers.pop(name.lower(), None)

        budget = _Budget(self._max_bytes)

        def run() -> tuple[str, str, str, list[tuple[str, str]]]:
            subject = self._expand(content.subject, False, variables, budget)
            html = self._expand(content.html, True, variables, budget) if content.html else ""
            if content.text:
                text = self._expand(content.text, False, variables, budget)
            else:
                text = html_to_text(html) if html else ""
            custom = [
                (name, self._expand(value, False, variables, budget))
                for name, value in headers.values()
            ]
            return subject, html, text, custom

        try:
            subject, html, text, custom = run_capped(self._timeout, run)
        except RenderTimeout:
            raise RenderError(f"rendering took longer than {self._timeout:g} s") from None
        if html and html_filter is not None:
            html = html_filter(html)

        head = [
            mime.mailbox("From", sender.from_name, sender.from_address),
            mime.mailbox("To", to_name, to_email),
            mime.unstructured("Subject", subject),
            f"Date: {self._now()}\r\n",
            f"Message-ID: <{message_id}.{secrets.token_hex(8)}@{self._hostname}>\r\n",
        ]
        if sender.reply_to:
            head.append(mime.mailbox("Reply-To", "", sender.reply_to))
        head.append("MIME-Version: 1.0\r\n")
        for name, value in custom:
            mime.check_field_name(name)
            if name.lower() in _OWN_HEADERS:
                raise RenderError(f"header {name} is set by the agent and cannot be replaced")
            head.append(mime.unstructured(name, value))
        for name, value in agent_headers:
            head.append(mime.unstructured(name, value))
        parts = []
        if text or not html:
            parts.append(mime.text_part("plain", text))
        if html:
            parts.append(mime.text_part("html", html))
        try:
            message = mime.assemble("".join(head), parts)
        except UnicodeEncodeError:
            raise RenderError("a header could not be encoded") from None
        if len(message) > self._max_bytes:
            raise RenderError(f"rendered message is larger than {self._max_bytes} bytes")
        return message

    def _expand(
        self, source: str, html: bool, variables: Mapping[str, str], budget: _Budget
    ) -> str:
        """One template's output, charged to the message's budget chunk by chunk."""
        template = self._template(source, html)
        chunks: list[str] = []
        left = budget.left
        try:
            # Counted inline, not through a method: a big template yields hundreds of chunks.
            for chunk in template.generate(variables):
                left -= len(chunk)
                if left < 0:
                    raise RenderError(f"rendered message is larger than {self._max_bytes} bytes")
                chunks.append(chunk)
        except (RenderTimeout, RenderError):
            raise
        except Exception as exc:
            # Whatever a template raises at run time (undefined attribute, sandbox refusal,
            # recursion, division by zero) is this message's failure, not the worker's.
            raise RenderError(f"template error: {type(exc).__name__}: {exc}") from None
        budget.left = left
        return "".join(chunks)

    def _template(self, source: str, html: bool) -> Template:
        key = (source, html)
        template = self._templates.get(key)
        if template is None:
            try:
                template = compile_template(source, html=html)
            except TemplateError as exc:
                raise RenderError(f"template does not compile: {exc}") from None
            if len(self._templates) >= _CACHE_SIZE:
                self._templates.clear()
            self._templates[key] = template
        return template

    def _now(self) -> str:
        # Formatting a date costs more than the rest of the headers; one per second will do.
        second = int(time.time())
        if second != self._date_second:
            self._date = format_datetime(datetime.fromtimestamp(second, UTC))
            self._date_second = second
        return self._date
