"""Putting a message's library images where its recipients fetch them, at send.

Before an agent gets a campaign or a test send, each library image its HTML refers to
(``media:<id>``) is published on that agent (``Media.FindMedia`` first, so an image it already
holds is not sent again, then ``Media.PutMedia``), and each reference is replaced by the public
URL the agent reported. A reference to an image no longer in the library stops the send: no
campaign is better than one with a broken picture. Blocking: run it off the GUI thread.
"""

from __future__ import annotations

from sqlalchemy import Engine

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import registry
from mailfleet.desktop.services import media
from mailfleet.v1 import media_pb2


class MediaMissing(Exception):
    """The message shows an image that was deleted from the media library."""


def publish(engine: Engine, workspace_id: int, agent: AgentStubs, html: str) -> str:
    """``html`` with its library images published on ``agent`` and referred to by their public
    URLs (unchanged when it shows none)."""
    wanted = media.referenced(html)
    if not wanted:
        return html
    with engine.connect() as conn:
        found = media.stored(conn, workspace_id, wanted)
    if len(found) < len(wanted):
        count = len(wanted) - len(found)
        raise MediaMissing(
            f"The message shows {'an image' if count == 1 else f'{count} images'} no longer in "
            "the media library: choose another in the template, then send again."
        )
    by_digest = {image.sha256: image for image in found.values()}
    held = agent.media.FindMedia(
        media_pb2.FindMediaRequest(sha256=sorted(by_digest)), timeout=registry.CALL_TIMEOUT
    )
    urls = {m.sha256: m.url for m in held.media}
    for sha256, image in by_digest.items():
        if sha256 not in urls:
            info = agent.media.PutMedia(
                media_pb2.PutMediaRequest(content=image.content), timeout=registry.CALL_TIMEOUT
            )
            urls[sha256] = info.url
    return media.rewrite(html, {i: urls[image.sha256] for i, image in found.items()})
