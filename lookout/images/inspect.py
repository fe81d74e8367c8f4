"""Checking that uploaded bytes are a real, safe image."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from lookout.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

# Formats browsers display and Pillow decodes; anything else is refused (no SVG: it can run code).
FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/gif": "gif",
}


@dataclass(frozen=True)
class ImageFacts:
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str


def _digest(stream: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size


def inspect_image(stream: BinaryIO, *, max_pixels: int) -> ImageFacts:
    """Decode the image fully (catching truncation), refusing bombs before decoding."""
    # Pillow loads with the first image, not with the server (boot time, issue 20).
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    sha256, size = _digest(stream)
    if size == 0:
        raise InvalidInput("the uploaded file is empty", field="file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(stream) as img:
                fmt = img.format or ""
                width, height = img.size
                if fmt not in FORMATS:
                    raise UnsupportedMedia(
                        f"unsupported image format {fmt or 'unknown'}; use JPEG, PNG or WebP",
                        field="file",
                    )
                if width * height > max_pixels:
                    raise PayloadTooLarge(
                        f"image is {width}x{height} pixels, more than the limit of {max_pixels}",
                        field="file",
                    )
                # JPEG: decode at 1/8 scale. Every byte is still read and entropy-decoded (a
                # truncated or corrupt file still fails), for a fraction of a full decode.
                img.draft(img.mode, (1, 1))
                img.load()
    except (
        UnidentifiedImageError,
        PILImage.DecompressionBombError,
        PILImage.DecompressionBombWarning,
    ) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise UnsupportedMedia("the uploaded file is not an image", field="file") from exc
        raise PayloadTooLarge(
            f"image refused as a decompression bomb: {exc}", field="file"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"the image is corrupt or truncated: {exc}", field="file") from exc
    finally:
        stream.seek(0)
    return ImageFacts(FORMATS[fmt], width, height, size, sha256)


def make_thumbnail(data: bytes, size: int) -> bytes:
    """A JPEG no larger than size x size."""
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as img:
        img.draft("RGB", (size, size))  # JPEG decodes at reduced scale: much faster
        rgb = img.convert("RGB")
        rgb.thumbnail((size, size))
        out = io.BytesIO()
        rgb.save(out, format="JPEG", quality=80)
        return out.getvalue()
