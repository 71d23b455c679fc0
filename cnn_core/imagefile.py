"""Reading untrusted image files: the canvas's PNG and photos a learner uploads.

Checked by content, never by name: the first bytes must be a PNG or JPEG signature, and Pillow
may only use that decoder. The pixel count comes from the header and is checked before a single
pixel is decoded, so a small file that would inflate to gigabytes (a decompression bomb) is
refused cheaply.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
MAX_BYTES = 5 * 2**20  # matches server.maxUploadSize
MAX_PIXELS = 4_000_000  # a few megapixels: plenty for a photo of one digit


class ImageFileError(ValueError):
    """The bytes are not an image ConvScope will read; the message says why."""


def sniff(raw: bytes) -> str | None:
    """'PNG', 'JPEG' or None, from the first bytes."""
    if raw.startswith(PNG_SIGNATURE):
        return "PNG"
    if raw.startswith(JPEG_SIGNATURE):
        return "JPEG"
    return None


def read_image(
    raw: bytes,
    *,
    formats: tuple[str, ...] = ("PNG", "JPEG"),
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = None,
) -> np.ndarray:
    """Image bytes -> (H, W, 4) uint8 RGBA, or ImageFileError with a reason a learner can act on."""
    # Long on purpose (issue 11): the safe decoding order (size, format, pixel count before
    # decoding, then decode) reads top to bottom in one place; split up, a step could be skipped.
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ImageFileError("no image data was received")
    raw = bytes(raw)
    if not raw:
        raise ImageFileError("the file is empty")
    if len(raw) > max_bytes:
        raise ImageFileError(
            f"the file is {len(raw) / 2**20:.1f} MB; at most {max_bytes / 2**20:.0f} MB"
        )
    kind = sniff(raw)
    if kind is None or kind not in formats:
        allowed = " or ".join(formats)
        raise ImageFileError(f"the file is not a {allowed} image (its first bytes say otherwise)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=[kind]) as img:
                width, height = img.size
                if width < 1 or height < 1:
                    raise ImageFileError("the image has no pixels")
                if width * height > max_pixels or (max_side and max(width, height) > max_side):
                    raise ImageFileError(
                        f"the image is {width}x{height} pixels; at most "
                        f"{max_pixels / 1e6:g} megapixels"
                        + (f" and {max_side} pixels a side" if max_side else "")
                    )
                img.load()
                return np.asarray(img.convert("RGBA"))
    except ImageFileError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageFileError("the image is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        reason = "truncated" if "truncated" in str(err).lower() else "damaged or not complete"
        raise ImageFileError(f"the {kind} file could not be decoded: it is {reason}") from None
