"""Media: the desktop publishes its library's images; recipients fetch them over HTTP
(:mod:`mailfleet.agent.media.web`)."""

from __future__ import annotations

import time
from typing import Any

import grpc

from mailfleet.agent.errors import AgentError, InvalidArgument
from mailfleet.agent.media import images
from mailfleet.agent.store import media
from mailfleet.agent.store.handle import Store
from mailfleet.agent.store.media import StoredMedia
from mailfleet.v1 import media_pb2, media_pb2_grpc

_MAX_FIND = 1000


class MediaFull(AgentError):
    """The agent keeps no more images: its media cap is reached."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED


class MediaService(media_pb2_grpc.MediaServicer):
    """Keeps images under their digest; shared by every tenant, since a digest names bytes."""

    def __init__(self, store: Store, base_url: str) -> None:
        self._store = store
        self._base_url = base_url

    def _info(self, m: StoredMedia) -> media_pb2.MediaInfo:
        return media_pb2.MediaInfo(
            sha256=m.sha256,
            url=images.public_url(self._base_url, m.sha256, m.content_type),
            content_type=m.content_type,
            size=m.size,
        )

    async def PutMedia(
        self, request: media_pb2.PutMediaRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> media_pb2.MediaInfo:
        content = request.content
        if len(content) > images.MAX_IMAGE_BYTES:
            raise InvalidArgument("content", "the image is over 5 MB")
        content_type = images.sniff(content)
        if content_type is None:
            raise InvalidArgument("content", "this is not a PNG, JPEG, GIF or WebP image")
        sha256 = images.digest(content)
        now = time.time()

        def keep(conn: Any) -> None:
            if media.find(conn, [sha256]):
                return
            if media.total_size(conn) + len(content) > images.MAX_TOTAL_BYTES:
                raise MediaFull("the agent's space for images is full")
            media.put(conn, sha256, content_type, content, now)

        await self._store.write(keep)
        return self._info(StoredMedia(sha256, content_type, len(content)))

    async def FindMedia(
        self, request: media_pb2.FindMediaRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> media_pb2.FindMediaResponse:
        digests = list(dict.fromkeys(request.sha256))
        if len(digests) > _MAX_FIND:
            raise InvalidArgument("sha256", f"ask for at most {_MAX_FIND} images at a time")
        if not all(images.is_digest(d) for d in digests):
            raise InvalidArgument("sha256", "each must be 64 lowercase hex digits")
        found = await self._store.read(lambda c: media.find(c, digests))
        return media_pb2.FindMediaResponse(media=[self._info(m) for m in found])
