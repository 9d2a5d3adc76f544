"""What the agent accepts as a published image: the type read from its first bytes (a name or a
client's claim is never trusted), its size caps, its digest and its public URL."""

from __future__ import annotations

import hashlib
import re

# One image: far above what a mail image should weigh, and well under the gRPC message cap.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Every image together: the agent's disk is for its queue first.
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def sniff(content: bytes) -> str | None:
    """The image type ``content`` starts with (its file signature), or None for anything else."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def digest(content: bytes) -> str:
    """The SHA-256 of ``content`` as lowercase hex: the image's name."""
    return hashlib.sha256(content).hexdigest()


def is_digest(text: str) -> bool:
    """Whether ``text`` is a digest as :func:`digest` writes it."""
    return bool(_DIGEST.match(text))


def public_url(base_url: str, sha256: str, content_type: str) -> str:
    """Where recipients fetch the image (``base_url`` without a trailing slash)."""
    return f"{base_url}/m/{sha256}.{EXTENSIONS[content_type]}"
