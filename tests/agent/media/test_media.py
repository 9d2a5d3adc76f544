"""Images published on a real agent over gRPC and fetched back over HTTP as recipients would:
content-addressed, cached for good, typed from their bytes, kept across a restart."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request

import grpc
import pytest

from mailfleet.v1 import media_pb2
from tests.peers.agent import AgentProcess
from tests.peers.images import png


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - loopback
            return int(reply.status), dict(reply.headers), bytes(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_a_published_image_is_served_at_its_public_url(agent_process: AgentProcess) -> None:
    stubs = agent_process.stubs()
    image = png()
    sha256 = hashlib.sha256(image).hexdigest()
    info = stubs.media.PutMedia(media_pb2.PutMediaRequest(content=image))
    assert info.sha256 == sha256 and info.content_type == "image/png"
    assert info.size == len(image)
    assert info.url == f"{agent_process.http_url}/m/{sha256}.png"

    status, headers, body = _get(info.url)
    assert status == 200 and body == image
    assert headers["Content-Type"] == "image/png"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["ETag"] == f'"{sha256}"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, _, body = _get(info.url, {"If-None-Match": f'"{sha256}"'})
    assert status == 304 and body == b""

    # the same bytes again: the same image, nothing added
    assert stubs.media.PutMedia(media_pb2.PutMediaRequest(content=image)) == info
    unknown = "0" * 64
    found = stubs.media.FindMedia(media_pb2.FindMediaRequest(sha256=[sha256, unknown]))
    assert list(found.media) == [info]

    assert _get(f"{agent_process.http_url}/m/{unknown}.png")[0] == 404
    assert _get(f"{agent_process.http_url}/m/{sha256}.jpg")[0] == 404  # not its type
    assert _get(f"{agent_process.http_url}/m/not-a-digest.png")[0] == 404

    agent_process.terminate()
    agent_process.start()
    status, _, body = _get(info.url)
    assert status == 200 and body == image  # kept in the store, not in memory


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"<html><body>not a picture</body></html>", "this is not a PNG, JPEG, GIF or WebP image"),
        (png() + b"\x00" * (5 * 1024 * 1024), "the image is over 5 MB"),
    ],
    ids=["not-an-image", "too-large"],
)
def test_what_is_not_a_small_image_is_refused(
    agent_process: AgentProcess, content: bytes, problem: str
) -> None:
    stubs = agent_process.stubs()
    with pytest.raises(grpc.RpcError) as refused:
        stubs.media.PutMedia(media_pb2.PutMediaRequest(content=content))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == f"content: {problem}"
    digest = hashlib.sha256(content).hexdigest()
    assert not stubs.media.FindMedia(media_pb2.FindMediaRequest(sha256=[digest])).media
