"""cnn_core.imagefile: untrusted PNG/JPEG bytes are read by content, with limits checked from the
header before decoding."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnn_core import imagefile


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose data is tiny (a decompression bomb's
    shape): the reader must refuse it from the header alone."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    idat = zlib.compress(b"\x00" * 64)
    return (
        imagefile.PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_png_and_jpeg_are_read_as_rgba():
    """A grey PNG and JPEG are read as (H, W, 4) uint8 RGBA with their bright and dark pixels in
    place."""
    gray = np.zeros((40, 30), np.uint8)
    gray[10:30, 12:18] = 255
    for fmt in ("PNG", "JPEG"):
        rgba = imagefile.read_image(_encode(gray, fmt))
        assert rgba.shape == (40, 30, 4) and rgba.dtype == np.uint8
        assert rgba[20, 15, 0] > 200 and rgba[0, 0, 0] < 30


def test_a_png_named_anything_is_still_a_png():
    """sniff recognises a PNG from its bytes, whatever the file is called."""
    assert imagefile.sniff(_encode(np.zeros((4, 4), np.uint8), "PNG")) == "PNG"


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"", "empty"),
        (None, "no image"),
        (b"GIF89a" + bytes(100), "not a PNG or JPEG"),
        (b"<svg onload=alert(1)>", "not a PNG or JPEG"),
        (b"%PDF-1.4 fake", "not a PNG or JPEG"),
        (imagefile.PNG_SIGNATURE + b"garbage" * 10, "could not be decoded"),
        (bytes(6 * 2**20), "MB"),
    ],
)
def test_refusals_say_why(raw, words):
    """Empty, missing, GIF, SVG, PDF, corrupt-PNG and 6 MB inputs raise ImageFileError saying
    what is wrong."""
    with pytest.raises(imagefile.ImageFileError, match=words):
        imagefile.read_image(raw)


def test_truncated_files_are_refused():
    """Half of a PNG or JPEG raises ImageFileError ('could not be decoded') instead of giving a
    partial image."""
    for fmt in ("PNG", "JPEG"):
        noise = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
        raw = _encode(noise, fmt)
        with pytest.raises(imagefile.ImageFileError, match="could not be decoded"):
            imagefile.read_image(raw[: len(raw) // 2])


def test_a_bomb_is_refused_from_its_header():
    """A PNG header claiming 50,000 x 50,000 pixels is refused as too large without decoding it."""
    with pytest.raises(imagefile.ImageFileError, match="megapixels|too large"):
        imagefile.read_image(_png_header_only(50_000, 50_000))


def test_only_the_allowed_formats_are_read():
    """With formats=('PNG',) a JPEG is refused as not a PNG image."""
    jpeg = _encode(np.zeros((8, 8), np.uint8), "JPEG")
    with pytest.raises(imagefile.ImageFileError, match="not a PNG image"):
        imagefile.read_image(jpeg, formats=("PNG",))


def test_a_header_over_the_pixel_limit_is_refused_before_decoding():
    """A 2500x2500 PNG header is refused with its size and the 4-megapixel limit in the message."""
    with pytest.raises(imagefile.ImageFileError, match="2500x2500 pixels; at most 4 megapixels"):
        imagefile.read_image(_png_header_only(2500, 2500))


def test_a_side_limit_applies_from_the_header():
    """A 3000-pixel-wide PNG header is refused when max_side is 2048, though its pixel count is
    small."""
    with pytest.raises(imagefile.ImageFileError, match="a side"):
        imagefile.read_image(_png_header_only(3000, 10), max_side=2048)
