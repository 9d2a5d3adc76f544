"""Putting a message's library images where its recipients fetch them, at send.

Before an agent gets a campaign or a test send, each library image its HTML refers to
(``media:<id>``) is published, and each reference is replaced by the image's public URL:

- by default on that agent (``Media.FindMedia`` first, so an image it already holds is not sent
  again, then ``Media.PutMedia``), at the URL the agent reported;
- in the workspace's S3-compatible bucket when it has one (:mod:`media_s3`), the same URL for
  every agent.

A reference to an image no longer in the library stops the send: no campaign is better than
one with a broken picture. Blocking: run it off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from mailfleet.agent.client import AgentStubs
from mailfleet.desktop.agents import media_s3, registry
from mailfleet.desktop.services import media, media_storage
from mailfleet.desktop.services.media import Stored
from mailfleet.desktop.services.media_storage import Bucket
from mailfleet.v1 import media_pb2


class PublishError(Exception):
    """The message's images could not be published; the message says why, for the marketer."""


class MediaMissing(PublishError):
    """The message shows an image that was deleted from the media library."""


def destination(engine: Engine, workspace_id: int) -> Bucket | None:
    """The workspace's bucket with its keys from the keyring, or None: images go on the
    agents. Read it where the keyring is (the app's process), for an upload process."""
    with engine.connect() as conn:
        chosen = media_storage.bucket(conn, workspace_id)
    return media_storage.with_keys(chosen, workspace_id) if chosen is not None else None


def publish(
    engine: Engine, workspace_id: int, agent: AgentStubs, html: str, bucket: Bucket | None
) -> str:
    """``html`` with its library images published (in ``bucket``, or on ``agent`` when None)
    and referred to by their public URLs (unchanged when it shows none)."""
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
    if bucket is None:
        urls = _on_agent(agent, found.values())
    else:
        try:
            urls = media_s3.publish(bucket, found.values())
        except media_s3.BucketError as exc:
            raise PublishError(str(exc)) from exc
    return media.rewrite(html, {i: urls[image.sha256] for i, image in found.items()})


def _on_agent(agent: AgentStubs, images: Iterable[Stored]) -> dict[str, str]:
    by_digest = {image.sha256: image for image in images}
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
    return urls
