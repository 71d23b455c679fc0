"""Canvas pixels -> one 28x28 model input, made the way the MNIST digits were made.

The MNIST recipe (LeCun, Cortes and Burges): each scanned digit was size-normalised to fit a
20x20 pixel box while preserving its aspect ratio, with anti-aliasing (which is why MNIST has grey
levels), and was then centred in a 28x28 field by computing the centre of mass of its pixels and
translating the image so that this point sits at the centre of the field.

`preprocess_canvas` follows that recipe and keeps every intermediate image, under these display
labels, in `Preprocessed.steps` (in this order):

1. "canvas (grayscale)"  alpha composited, then luminance. Transparent pixels are background:
                         they get the brightness that contrasts with the visible strokes.
2. "ink polarity fixed"  if the background is light, the image is inverted; then the background
                         level is mapped to 0, so the ink is bright on black, as in MNIST. The
                         background is the transparent pixels' when there are any, else the
                         median of the border pixels.
3. "cropped to ink"      the bounding box of the pixels brighter than INK_LEVEL.
4. "scaled to 20 px"     longer side 20 px, aspect ratio kept, Lanczos resampling (anti-aliased).
5. "placed in 28x28"     pasted in the middle of a black 28x28 frame (centred by bounding box).
6. "centred by mass"     moved by whole pixels so that the centre of mass is at (13.5, 13.5).

Coordinates: pixel (i, j) has its centre at (i, j), so a 28-px frame spans -0.5 .. 27.5 and its
centre is 13.5 in both directions (MNIST's description does not say which convention it used;
13.5 is the symmetric one). The shift is rounded to whole pixels, so no second resampling blurs
the strokes, and it is clamped so that the 20 px box never leaves the frame: no ink is cut off.

`center=False` is the lesson "why centring matters": the whole canvas, padded to a square, is
scaled down to 28x28 with no crop and no shift, so a digit drawn in a corner stays in that corner.
Its steps are "canvas (grayscale)", "ink polarity fixed", "padded to square" (only when the canvas
is not square) and "scaled to 28x28".

A blank or nearly blank canvas (no pixel brighter than INK_LEVEL = 0.1 after the polarity fix, or
fewer ink pixels than `min_ink`, by default 0.2% of the canvas: 157 of 280x280, a dot about 14 px
across) gives `is_empty=True` and an all-zero image: no prediction should be made from it. Its
steps stop after "ink polarity fixed".
"""

from dataclasses import dataclass
from numbers import Real

import numpy as np
from PIL import Image

FRAME = 28  # side of the model input, px
BOX = 20  # longer side of the digit after size normalisation, px (MNIST's 20x20 box)
FRAME_CENTRE = (FRAME - 1) / 2  # 13.5: centre of the frame in pixel-centre coordinates
INK_LEVEL = 0.1  # after the polarity fix, a pixel brighter than this counts as ink
MIN_INK = 0.002  # default: less ink than this fraction of the canvas's pixels means "empty"
MAX_SIDE = 4096  # largest accepted image side, px

STEP_GRAY = "canvas (grayscale)"
STEP_POLARITY = "ink polarity fixed"
STEP_CROP = "cropped to ink"
STEP_SCALE = "scaled to 20 px"
STEP_PLACE = "placed in 28x28"
STEP_CENTRE = "centred by mass"
STEP_SQUARE = "padded to square"
STEP_DOWNSCALE = "scaled to 28x28"

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B, as Pillow's "L" conversion


# eq=False: the fields are arrays, so a generated __eq__/__hash__ would fail; identity is used.
@dataclass(frozen=True, eq=False)
class Preprocessed:
    image: np.ndarray  # (28, 28) float32 in [0, 1], bright digit on black, like MNIST
    steps: dict[str, np.ndarray]  # ordered display label -> 2-D float32 image in [0, 1]
    is_empty: bool  # blank or nearly blank input: make no prediction (image is all zeros)
    inverted: bool  # True if the input was dark ink on a light background and was inverted
    bbox: tuple[int, int, int, int] | None  # (top, left, bottom, right) of the ink, ends exclusive
    shift: tuple[float, float]  # (dy, dx) in px applied by centring by mass; (0, 0) if not centred


def preprocess_canvas(rgba, center: bool = True, *, min_ink: float = MIN_INK) -> Preprocessed:
    """Turn a drawing-canvas image into an MNIST-like 28x28 input, keeping every step.

    rgba: (H, W, 4) uint8 RGBA as streamlit-drawable-canvas returns it; (H, W, 3) RGB, (H, W, 1)
    and (H, W) grayscale are accepted too; float arrays must hold values in [0, 1].
    center: True follows the MNIST recipe (crop, 20 px box, centre of mass at the frame centre);
    False scales the whole canvas down to 28x28 so the digit stays where it was drawn.
    min_ink: the fraction of pixels that must be ink for the canvas not to count as empty.
    """
    _check_options(center, min_ink)
    arr = _checked_array(rgba, "canvas", channels=(1, 3, 4))
    gray, background = _composite_gray(arr)
    return _pipeline(gray, center, min_ink, background)


def preprocess_image(gray, center: bool = True, *, min_ink: float = MIN_INK) -> Preprocessed:
    """The same pipeline for a 2-D grayscale image (an upload): uint8 0..255 or float in [0, 1]."""
    _check_options(center, min_ink)
    arr = _checked_array(gray, "image", channels=())
    return _pipeline(_unit(arr), center, min_ink)


def center_of_mass(img) -> tuple[float, float]:
    """(row, column) of the intensity-weighted mean position; pixel (i, j) is centred at (i, j)."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"center_of_mass needs a 2-D image, got shape {img.shape}")
    total = img.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"the centre of mass is undefined: the image has no ink (sum {total})")
    rows = img.sum(axis=1) @ np.arange(img.shape[0])  # sum_i i * (row i's mass)
    cols = img.sum(axis=0) @ np.arange(img.shape[1])  # sum_j j * (column j's mass)
    return float(rows / total), float(cols / total)


# ---------------------------------------------------------------- validation


def _check_options(center, min_ink) -> None:
    if not isinstance(center, bool | np.bool_):
        raise ValueError(f"center must be True or False, got {center!r}")
    if not isinstance(min_ink, Real) or not 0 <= min_ink < 1:
        raise ValueError(f"min_ink is a fraction of the pixels, in [0, 1), got {min_ink!r}")


def _checked_array(x, what: str, channels: tuple[int, ...]) -> np.ndarray:
    """Validate shape, size, dtype and values; return the array unchanged (cheap checks first)."""
    arr = np.asarray(x)
    shapes = "(H, W)" + "".join(f" or (H, W, {c})" for c in channels)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in channels):
        raise ValueError(f"the {what} must be an array of shape {shapes}, got shape {arr.shape}")
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"the {what} is empty (shape {arr.shape}); it needs at least one pixel")
    if max(h, w) > MAX_SIDE:
        raise ValueError(
            f"the {what} is {h}x{w} px; the largest accepted side is {MAX_SIDE} px, "
            "so scale it down first"
        )
    _check_values(arr, what)
    return arr


def _check_values(arr: np.ndarray, what: str) -> None:
    """uint8-like integers in 0..255, or finite floats in [0, 1]; bool is fine."""
    if arr.dtype == np.bool_:
        return
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"the {what} has integer values {lo}..{hi}; expected 0..255 (uint8)")
        return
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(
            f"the {what} has dtype {arr.dtype}; expected uint8 (0..255) or float (0..1)"
        )
    if not np.isfinite(arr).all():
        raise ValueError(
            f"the {what} contains NaN or infinite values; every pixel must be a number"
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:
        raise ValueError(
            f"the {what} has float values {lo:.3g}..{hi:.3g}; float images must be in [0, 1] "
            "(divide 0..255 values by 255)"
        )


def _unit(channel: np.ndarray) -> np.ndarray:
    """A validated 2-D channel as float32 in [0, 1] (integers are read as 0..255)."""
    if np.issubdtype(channel.dtype, np.integer):
        return channel.astype(np.float32) / np.float32(255)
    return channel.astype(np.float32)


# ---------------------------------------------------------------- step 1: grayscale


def _composite_gray(arr: np.ndarray) -> tuple[np.ndarray, float | None]:
    """(H, W[, C]) validated pixels -> (H, W) float32 luminance, alpha composited.

    Also returns the background brightness when transparency reveals it (some pixel has alpha 0:
    those pixels are the background), else None and the border will decide.
    """
    if arr.ndim == 2 or arr.shape[2] == 1:
        return _unit(arr.reshape(arr.shape[:2])), None
    gray = sum(np.float32(k) * _unit(arr[..., c]) for c, k in enumerate(_LUMA))  # (H, W)
    if arr.shape[2] == 3:
        return gray, None
    alpha = _unit(arr[..., 3])  # (H, W), 0 = transparent
    background = _background_under_alpha(gray, alpha)
    gray = alpha * gray + (1 - alpha) * np.float32(background)  # (H, W)
    return gray, (background if alpha.min() == 0 else None)


def _background_under_alpha(gray: np.ndarray, alpha: np.ndarray) -> float:
    """Brightness to give transparent pixels: they are background, whatever colour they hold.

    The visible pixels are taken to be the strokes (a drawing layer, as streamlit-drawable-canvas
    returns it), so the background is chosen to contrast with their alpha-weighted brightness:
    black under light strokes, white under dark ones. This holds however much of the canvas the
    strokes cover (a scribble over everything). An opaque image never shows its background.
    """
    weight = float(alpha.sum())
    if weight == 0:
        return 0.0  # fully transparent: nothing drawn
    stroke = float((alpha * gray).sum()) / weight  # alpha-weighted stroke brightness
    return 0.0 if stroke >= 0.5 else 1.0


# ---------------------------------------------------------------- steps 2-6


def _pipeline(gray, center: bool, min_ink: float, background=None) -> Preprocessed:
    """(H, W) float32 grayscale in [0, 1] -> Preprocessed, recording each step."""
    steps = {STEP_GRAY: gray}
    ink, inverted = _fix_polarity(gray, background)  # (H, W), ink bright
    steps[STEP_POLARITY] = ink
    mask = ink > INK_LEVEL  # (H, W) bool
    if not mask.any() or mask.mean() < min_ink:
        empty = np.zeros((FRAME, FRAME), dtype=np.float32)
        return Preprocessed(empty, steps, True, inverted, None, (0.0, 0.0))
    bbox = _ink_bbox(mask)
    if center:
        image, shift = _mnist_steps(ink, bbox, steps)
    else:
        image, shift = _downscale_whole(ink, steps), (0.0, 0.0)
    return Preprocessed(image, steps, False, inverted, bbox, shift)


def _fix_polarity(gray: np.ndarray, background: float | None) -> tuple[np.ndarray, bool]:
    """Make the ink bright and the background 0; unless known, the background is the median of
    the border pixels (robust to strokes that touch the edge)."""
    if background is None:
        border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])  # (2W + 2H,)
        background = float(np.median(border))
    inverted = background > 0.5
    if inverted:
        gray, background = 1 - gray, 1 - background
    ink = np.clip((gray - np.float32(background)) / np.float32(1 - background), 0, 1)  # (H, W)
    return ink.astype(np.float32), inverted


def _ink_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the True pixels; bottom and right are exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _mnist_steps(ink: np.ndarray, bbox, steps: dict) -> tuple[np.ndarray, tuple[float, float]]:
    """Crop, fit in the 20 px box, place in 28x28, centre by mass. Returns (image, shift)."""
    top, left, bottom, right = bbox
    crop = ink[top:bottom, left:right]  # (h, w)
    steps[STEP_CROP] = crop
    h, w = crop.shape
    size = (max(1, round(h * BOX / max(h, w))), max(1, round(w * BOX / max(h, w))))
    digit = _resize(crop, size)  # (h', w'), longer side 20
    steps[STEP_SCALE] = digit
    at = ((FRAME - size[0]) // 2, (FRAME - size[1]) // 2)  # top-left corner, bbox-centred
    placed = _paste(digit, at)  # (28, 28)
    steps[STEP_PLACE] = placed
    cy, cx = center_of_mass(placed)
    # Whole-pixel shift towards the centre, clamped so the digit's box stays in the frame.
    dy = min(max(round(FRAME_CENTRE - cy), -at[0]), FRAME - size[0] - at[0])
    dx = min(max(round(FRAME_CENTRE - cx), -at[1]), FRAME - size[1] - at[1])
    centred = _paste(digit, (at[0] + dy, at[1] + dx))  # (28, 28)
    steps[STEP_CENTRE] = centred
    return centred, (float(dy), float(dx))


def _downscale_whole(ink: np.ndarray, steps: dict) -> np.ndarray:
    """center=False: pad the whole canvas to a square and scale it to 28x28, no crop, no shift."""
    h, w = ink.shape
    side = max(h, w)
    if h != w:
        ink = _paste(ink, ((side - h) // 2, (side - w) // 2), frame=side)  # (side, side)
        steps[STEP_SQUARE] = ink
    image = _resize(ink, (FRAME, FRAME))  # (28, 28)
    steps[STEP_DOWNSCALE] = image
    return image


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Lanczos (anti-aliased) resize of a 2-D float image to (rows, cols), clipped to [0, 1]."""
    pil = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32))  # mode "F"
    out = pil.resize((size[1], size[0]), Image.Resampling.LANCZOS)  # Pillow takes (width, height)
    return np.clip(np.asarray(out, dtype=np.float32), 0, 1)  # Lanczos overshoots a little


def _paste(img: np.ndarray, at: tuple[int, int], frame: int = FRAME) -> np.ndarray:
    """img placed with its top-left corner at `at` in a black (frame, frame) float32 image."""
    out = np.zeros((frame, frame), dtype=np.float32)
    out[at[0] : at[0] + img.shape[0], at[1] : at[1] + img.shape[1]] = img
    return out
