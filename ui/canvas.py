"""The drawing canvas: the only module that imports streamlit_drawable_canvas.

The canvas sends its drawing as a PNG data URL. That is input from the browser, so it is decoded
here with a size limit, by content, before anything else sees it.
"""

from __future__ import annotations

import binascii

import numpy as np
from streamlit_drawable_canvas import st_canvas

from cnn_core import imagefile

CANVAS_PX = 280  # drawn size; the browser may send a larger PNG on high-density screens
MAX_CANVAS_SIDE = 2048  # refuse a canvas image larger than this before decoding it
MAX_PNG_BYTES = 8 * 2**20  # a 2048x2048 RGBA PNG of strokes is far smaller


class CanvasImageError(ValueError):
    """The canvas sent something that is not a reasonable PNG image."""


def decode_png(raw: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, 4) uint8 RGBA, refusing anything but a PNG of at most
    MAX_CANVAS_SIDE pixels a side (checked from the header, before decoding any pixel)."""
    try:
        return imagefile.read_image(
            raw,
            formats=("PNG",),
            max_bytes=MAX_PNG_BYTES,
            max_pixels=MAX_CANVAS_SIDE**2,
            max_side=MAX_CANVAS_SIDE,
        )
    except imagefile.ImageFileError as err:
        raise CanvasImageError(f"the canvas image was refused: {err}") from None


def drawing_canvas(
    key: str, stroke_width: int, initial: dict | None = None
) -> tuple[np.ndarray | None, dict | None]:
    """Show the 280x280 canvas (white ink on black), starting from ``initial`` (a drawing it
    returned before: pass the same value for a whole page visit, since a changed value redraws
    the canvas). Returns (its RGBA image, its drawing as fabric JSON), both None while it holds
    no stroke (or before it has sent anything). The canvas's own toolbar has undo, redo, clear."""
    result = st_canvas(
        initial_drawing=initial,
        stroke_width=stroke_width,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS_PX,
        width=CANVAS_PX,
        drawing_mode="freedraw",
        key=key,
        return_image_data=True,
        update_streamlit=True,
    )
    objects = (result.json_data or {}).get("objects") or []
    if not objects:
        return None, None
    try:
        raw = result.image_bytes  # base64-decoded by the component; None until the first send
    except (ValueError, binascii.Error):
        raise CanvasImageError("the canvas did not send a valid image") from None
    return (None, None) if raw is None else (decode_png(raw), result.json_data)
