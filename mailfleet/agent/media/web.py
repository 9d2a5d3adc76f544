"""Serving published images: ``GET /m/<sha256>.<extension>``.

The name is the SHA-256 of the bytes, so a URL's content never changes: the answer may be
cached for a year and marked immutable, and its ETag is the digest (a matching
``If-None-Match`` gets 304). Unknown digests, and a known digest with another type's extension,
are 404. The type is the one the agent read from the bytes, with ``nosniff`` so no browser
guesses another.
"""

from __future__ import annotations

from aiohttp import web

from mailfleet.agent.media import images
from mailfleet.agent.store import media
from mailfleet.agent.web.server import STORE_KEY, Mount

_CACHED = "public, max-age=31536000, immutable"


async def _serve(request: web.Request) -> web.StreamResponse:
    sha256, _, extension = request.match_info["name"].partition(".")
    if not images.is_digest(sha256):
        raise web.HTTPNotFound(text="No such image.\n")
    found = await request.app[STORE_KEY].read(lambda c: media.get(c, sha256))
    if found is None or extension != images.EXTENSIONS[found.content_type]:
        raise web.HTTPNotFound(text="No such image.\n")
    headers = {
        "Cache-Control": _CACHED,
        "ETag": f'"{sha256}"',
        "X-Content-Type-Options": "nosniff",
    }
    if f'"{sha256}"' in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.content, content_type=found.content_type, headers=headers)


def mount() -> Mount:
    """The image route, for the web server."""

    def add(app: web.Application) -> None:
        app.router.add_get("/m/{name}", _serve)

    return add
