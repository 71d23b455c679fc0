"""Share links without Streamlit: the 28x28 input as a short URL-safe text, and typed settings.

A link is untrusted text from anyone. Every decoder here either returns a clean value or raises
``LinkError`` with a sentence that says what was wrong; nothing is evaluated, nothing grows
without bound (decompression stops after the bytes an image can have).

Image encoding (``encode_image``): a one-letter version, then URL-safe base64 without padding of
the zlib-compressed pixels.
- ``b``: 8-bit pixels (784 bytes before compression). A digit is mostly black, so this is
  typically 150-450 characters.
- ``q``: 4-bit pixels, two per byte, used only when ``b`` would exceed the character budget
  (noisy images); at most about 530 characters.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import toy

SIDE = 28
PIXELS = SIDE * SIDE
MAX_IMAGE_CHARS = 1000  # the budget for the image in a link
MAX_VALUE_CHARS = 400  # any other single value (a 7x7 grid of short numbers fits)


class LinkError(ValueError):
    """A link value that cannot be used; the message says why, for the page."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise LinkError("the image is not valid URL-safe base64") from None


def encode_image(image: np.ndarray) -> str:
    """A (28, 28) image with values in [0, 1] -> compact URL-safe text (under 1,000 chars)."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (SIDE, SIDE):
        raise ValueError(f"Only 28x28 images can go into a link, not {image.shape}.")
    if not np.isfinite(image).all():
        raise ValueError("The image has values that are not finite.")
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    text = "b" + _b64(zlib.compress(pixels.tobytes(), 9))
    if len(text) <= MAX_IMAGE_CHARS:
        return text
    nibbles = np.rint(pixels.astype(np.float32) / 17).astype(np.uint8)  # 0..15
    packed = (nibbles.ravel()[0::2] << 4) | nibbles.ravel()[1::2]
    return "q" + _b64(zlib.compress(packed.tobytes(), 9))


def _inflate(data: bytes, limit: int) -> bytes:
    """zlib-decompress at most ``limit`` bytes; more, or a broken stream, is a LinkError."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise LinkError("the image data is corrupt (not zlib)") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise LinkError("the image data is larger than a 28x28 image")
    if not inflater.eof:
        raise LinkError("the image data is truncated")
    return out


def decode_image(text: str) -> np.ndarray:
    """Inverse of ``encode_image``: float32 (28, 28) in [0, 1], or LinkError."""
    if not isinstance(text, str) or not text:
        raise LinkError("the image is empty")
    if len(text) > MAX_IMAGE_CHARS + 50:
        raise LinkError(f"the image text is too long ({len(text):,} characters)")
    version, body = text[0], text[1:]
    if version == "b":
        raw = _inflate(_unb64(body), PIXELS)
        if len(raw) != PIXELS:
            raise LinkError(f"the image has {len(raw)} pixels, not {PIXELS}")
        pixels = np.frombuffer(raw, dtype=np.uint8).astype(np.float32) / 255
    elif version == "q":
        raw = _inflate(_unb64(body), PIXELS // 2)
        if len(raw) != PIXELS // 2:
            raise LinkError(f"the image has {2 * len(raw)} pixels, not {PIXELS}")
        packed = np.frombuffer(raw, dtype=np.uint8)
        nibbles = np.empty(PIXELS, dtype=np.uint8)
        nibbles[0::2], nibbles[1::2] = packed >> 4, packed & 0x0F
        pixels = nibbles.astype(np.float32) * 17 / 255
    else:
        raise LinkError("the image encoding is unknown (it should start with 'b' or 'q')")
    return pixels.reshape(SIDE, SIDE).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Typed settings


@dataclass(frozen=True)
class Setting:
    """One shareable setting: how to read it from link text and how to write it back.

    kind: "int", "float", "bool", "choice" or "grid" (a small grid of numbers, rows split by ';'
    and values by ',', stored in the page as the editor's text).
    names: for a choice, the word a link uses for each choice, in the same order (a tab's label
    "Kernel editor" travels as "editor"); without names a link holds the choice itself.
    """

    kind: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    max_size: int = 14
    names: tuple = ()

    def __post_init__(self):
        if self.names and len(self.names) != len(self.choices):
            raise ValueError("A choice setting needs one link name per choice.")

    def parse(self, text: str) -> Any:
        if not isinstance(text, str):
            raise LinkError("the value is not text")
        if len(text) > MAX_VALUE_CHARS:
            raise LinkError(f"the value is too long ({len(text):,} characters)")
        if self.kind == "int":
            try:
                value = int(text.strip())
            except ValueError:
                raise LinkError(f"'{safe_name(text, 24)}' is not a whole number") from None
            return self._in_range(value)
        if self.kind == "float":
            try:
                value = float(text.strip())
            except ValueError:
                raise LinkError(f"'{safe_name(text, 24)}' is not a number") from None
            if not math.isfinite(value):
                raise LinkError("the number is not finite")
            return self._in_range(value)
        if self.kind == "bool":
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise LinkError(f"'{safe_name(text, 24)}' is not true or false")
        if self.kind == "choice":
            words = self._words()
            if text in words:
                return self.choices[words.index(text)]
            raise LinkError(f"'{safe_name(text, 24)}' is not one of {', '.join(words)}")
        if self.kind == "grid":
            rows = text.replace(";", "\n").replace(",", " ")
            try:
                grid = toy.parse_grid(rows, name="grid", max_size=self.max_size)
            except ValueError as err:
                raise LinkError(str(err)) from None
            return toy.format_grid(grid)
        raise ValueError(f"Unknown setting kind {self.kind!r}")

    def _words(self) -> list[str]:
        """What a link holds for each choice."""
        return [str(n) for n in (self.names or self.choices)]

    def _in_range(self, value):
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise LinkError(f"{value} is outside {self.lo:g} to {self.hi:g}")
        return value

    def format(self, value: Any) -> str:
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "grid":
            grid = toy.parse_grid(str(value), max_size=self.max_size)
            return ";".join(",".join(f"{v:.4g}" for v in row) for row in grid)
        if self.kind == "float":
            return f"{float(value):.6g}"
        if self.kind == "choice" and self.names:
            return str(self.names[self.choices.index(value)])
        return str(value)


def safe_name(text: str, limit: int = 30) -> str:
    """Untrusted text (a link's value or parameter name, an uploaded file's name) made safe to
    show in markdown: letters, digits and ' .-_+' kept, anything else '?', at most ``limit``
    characters (then '…'). The one sanitiser of the app."""
    text = str(text)
    cleaned = "".join(ch if ch.isalnum() or ch in " .-_+" else "?" for ch in text[:limit])
    return cleaned + ("…" if len(text) > limit else "")
