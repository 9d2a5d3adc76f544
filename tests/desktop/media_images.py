"""Images for the media library's tests, made with Pillow as a designer's tool would."""

from __future__ import annotations

import io

from PIL import Image


def picture(fmt: str = "PNG", size: tuple[int, int] = (640, 320), colour: str = "#2563eb") -> bytes:
    """A real image file of ``fmt`` (PNG, JPEG, GIF, WEBP, BMP, ...)."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()
