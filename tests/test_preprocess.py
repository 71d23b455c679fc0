"""Tests for cnn_core.preprocess: canvas RGBA -> MNIST-like 28x28 input."""

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from cnn_core import preprocess
from cnn_core.preprocess import (
    BOX,
    FRAME_CENTRE,
    STEP_CENTRE,
    STEP_CROP,
    STEP_DOWNSCALE,
    STEP_GRAY,
    STEP_PLACE,
    STEP_POLARITY,
    STEP_SCALE,
    STEP_SQUARE,
    Preprocessed,
    center_of_mass,
    preprocess_canvas,
    preprocess_image,
)

SIZE = 280  # the app's canvas side, px
WHITE, BLACK = (255, 255, 255, 255), (0, 0, 0, 255)
CLEAR = (0, 0, 0, 0)  # a transparent pixel, as streamlit-drawable-canvas returns the background
MIDDLE = (70, 40, 210, 240)  # (x0, y0, x1, y1) box a digit is drawn in
CORNERS = {
    "top-left": (5, 5, 85, 105),
    "top-right": (190, 5, 270, 105),
    "bottom-left": (5, 170, 85, 270),
    "bottom-right": (190, 170, 270, 270),
}


def draw(digit, box=MIDDLE, *, ink=WHITE, background=BLACK, width=20, size=(SIZE, SIZE)):
    """A synthetic digit drawn with thick strokes inside box; (H, W, 4) uint8 RGBA."""
    x0, y0, x1, y1 = box

    def at(u, v):  # unit coordinates in the box -> canvas pixel
        return (round(x0 + u * (x1 - x0)), round(y0 + v * (y1 - y0)))

    img = Image.new("RGBA", size, background)
    pen = ImageDraw.Draw(img)
    if digit == "1":
        pen.line([at(0.5, 0), at(0.5, 1)], fill=ink, width=width)
    elif digit == "0":
        pen.ellipse([at(0, 0), at(1, 1)], outline=ink, width=width)
    elif digit == "7":
        pen.line([at(0, 0), at(1, 0), at(0.4, 1)], fill=ink, width=width, joint="curve")
    elif digit == "-":
        pen.line([at(0, 0.5), at(1, 0.5)], fill=ink, width=width)
    return np.array(img)


def ink_extent(img, level=0.0):
    """(rows, cols) spanned by the pixels above level."""
    rows = np.flatnonzero((img > level).any(axis=1))
    cols = np.flatnonzero((img > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


# ---------------------------------------------------------------- output format


@pytest.mark.parametrize("digit", ["1", "0", "7"])
def test_output_is_28x28_float32_in_unit_range(digit):
    """A drawn digit gives a (28, 28) float32 image in [0, 1] and the six MNIST steps in order."""
    out = preprocess_canvas(draw(digit))
    assert isinstance(out, Preprocessed)
    assert out.image.shape == (28, 28) and out.image.dtype == np.float32
    assert out.image.min() >= 0 and out.image.max() <= 1 and out.image.max() > 0.9
    assert not out.is_empty and not out.inverted
    expected = [STEP_GRAY, STEP_POLARITY, STEP_CROP, STEP_SCALE, STEP_PLACE, STEP_CENTRE]
    assert list(out.steps) == expected
    for step in out.steps.values():
        assert step.ndim == 2 and step.dtype == np.float32
        assert step.min() >= 0 and step.max() <= 1
    assert out.steps[STEP_CENTRE] is out.image


def test_bbox_is_the_ink_box_in_canvas_coordinates():
    """bbox is (top, left, bottom, right) of the stroke, ends exclusive, like slice bounds."""
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[30:90, 100:120] = WHITE
    out = preprocess_canvas(rgba)
    assert out.bbox == (30, 100, 90, 120)


# ---------------------------------------------------------------- MNIST recipe


@pytest.mark.parametrize("corner", CORNERS)
@pytest.mark.parametrize("digit", ["1", "0", "7"])
def test_corner_digit_comes_out_centred_by_mass(digit, corner):
    """A digit drawn in a corner ends with its centre of mass within 1 px of (13.5, 13.5)."""
    out = preprocess_canvas(draw(digit, CORNERS[corner]))
    cy, cx = center_of_mass(out.image)
    assert abs(cy - FRAME_CENTRE) <= 1 and abs(cx - FRAME_CENTRE) <= 1


def test_where_the_digit_was_drawn_does_not_matter():
    """The same strokes moved across the canvas give the same 28x28 image (crop + centring)."""
    moved = (MIDDLE[0] + 50, MIDDLE[1] - 30, MIDDLE[2] + 50, MIDDLE[3] - 30)
    a = preprocess_canvas(draw("7", MIDDLE)).image
    b = preprocess_canvas(draw("7", moved)).image
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_tall_thin_one_keeps_its_aspect_ratio():
    """A tall thin '1' (200x20 px) stays tall and thin: 20 px tall, at most 3 px wide."""
    out = preprocess_canvas(draw("1"))
    assert out.steps[STEP_SCALE].shape[0] == BOX and out.steps[STEP_SCALE].shape[1] <= 3
    rows, cols = ink_extent(out.image)
    assert rows == BOX and cols <= 3


@pytest.mark.parametrize(("digit", "axis"), [("1", 0), ("-", 1), ("0", 0), ("7", 0)])
def test_longer_side_is_20_px(digit, axis):
    """After scaling, the longer side of the ink is exactly 20 px (tall, wide and round digits)."""
    out = preprocess_canvas(draw(digit))
    scaled = out.steps[STEP_SCALE]
    assert max(scaled.shape) == BOX and scaled.shape[axis] == BOX
    assert ink_extent(out.image)[axis] == BOX


def test_centring_is_a_whole_pixel_shift_of_the_placed_digit():
    """The centred image is the bbox-placed image moved by `shift` whole pixels, no ink lost."""
    out = preprocess_canvas(draw("7", CORNERS["top-left"]))
    dy, dx = out.shift
    assert dy == int(dy) and dx == int(dx)
    placed = out.steps[STEP_PLACE]
    np.testing.assert_array_equal(np.roll(placed, (int(dy), int(dx)), axis=(0, 1)), out.image)
    assert out.image.sum() == pytest.approx(placed.sum(), rel=1e-6)


def test_mass_shift_is_clamped_so_no_ink_is_cut():
    """A very lopsided shape cannot be fully centred; it is moved only until its box touches the
    frame edge, and all of its ink is kept."""
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[20:220, 100:104] = WHITE  # a thin vertical bar 200 px tall ...
    rgba[200:220, 60:140] = WHITE  # ... with a heavy foot (an inverted T)
    rgba[210:220, 60:140] = WHITE
    out = preprocess_canvas(rgba)
    assert out.image.sum() == pytest.approx(out.steps[STEP_SCALE].sum(), rel=1e-6)
    rows = np.flatnonzero(out.image.any(axis=1))
    assert rows[0] >= 0 and rows[-1] <= 27


# ---------------------------------------------------------------- empty input


@pytest.mark.parametrize(
    "fill",
    [(0, 0, 0, 255), (0, 0, 0, 0), (255, 255, 255, 0), (255, 255, 255, 255), (128, 128, 128, 255)],
    ids=["black", "transparent", "transparent-white", "white", "grey"],
)
def test_blank_canvas_is_empty(fill):
    """A blank canvas of any colour or transparency is empty: zero image, no bbox, no shift."""
    rgba = np.full((SIZE, SIZE, 4), fill, np.uint8)
    out = preprocess_canvas(rgba)
    assert out.is_empty and out.bbox is None and out.shift == (0.0, 0.0)
    assert out.image.shape == (28, 28) and out.image.dtype == np.float32 and not out.image.any()
    assert STEP_GRAY in out.steps and STEP_CROP not in out.steps


def test_tiny_dot_is_empty_unless_min_ink_is_zero():
    """A dot of radius 3 px (about 0.04% of the canvas) is too little ink to predict from."""
    img = Image.new("RGBA", (SIZE, SIZE), BLACK)
    ImageDraw.Draw(img).ellipse([137, 137, 143, 143], fill=WHITE)
    rgba = np.array(img)
    assert preprocess_canvas(rgba).is_empty
    out = preprocess_canvas(rgba, min_ink=0)
    assert not out.is_empty and out.image.max() > 0.9


def test_faint_marks_below_the_ink_level_are_empty():
    """Pixels no brighter than 0.1 are not ink, however many there are."""
    rgba = np.full((SIZE, SIZE, 4), BLACK, np.uint8)
    rgba[50:230, 50:230] = (20, 20, 20, 255)  # about 0.08 bright on opaque black
    assert preprocess_canvas(rgba).is_empty


# ---------------------------------------------------------------- polarity and alpha


def test_both_polarities_and_transparent_backgrounds_agree():
    """White on black, black on white, and white or black strokes on a transparent background
    all give the same image; `inverted` says which inputs were dark ink on light."""
    cases = {
        "white on black": (draw("7", ink=WHITE, background=BLACK), False),
        "black on white": (draw("7", ink=BLACK, background=WHITE), True),
        "white on clear": (draw("7", ink=WHITE, background=CLEAR), False),
        "black on clear": (draw("7", ink=BLACK, background=CLEAR), True),
    }
    reference = preprocess_canvas(cases["white on black"][0]).image
    for name, (rgba, inverted) in cases.items():
        out = preprocess_canvas(rgba)
        assert out.inverted == inverted, name
        np.testing.assert_allclose(out.image, reference, atol=1e-6, err_msg=name)


def test_colour_under_transparent_pixels_is_ignored():
    """Transparent pixels are background whatever RGB they carry (here opaque-looking white)."""
    plain = preprocess_canvas(draw("0", background=BLACK)).image
    odd = preprocess_canvas(draw("0", ink=WHITE, background=(255, 255, 255, 0))).image
    np.testing.assert_allclose(odd, plain, atol=1e-6)


@pytest.mark.parametrize("ink", [WHITE, BLACK], ids=["white", "black"])
def test_scribble_over_most_of_a_transparent_canvas_is_still_ink(ink):
    """Strokes covering most of a transparent canvas, edges included, stay ink: the transparent
    pixels, not the border, say what the background is."""
    rgba = np.full((SIZE, SIZE, 4), CLEAR, np.uint8)
    rgba[:, :250] = ink  # 89% of the canvas, three whole borders
    out = preprocess_canvas(rgba)
    assert not out.is_empty and out.inverted == (ink == BLACK)
    assert out.bbox == (0, 0, SIZE, 250)
    assert (
        out.steps[STEP_POLARITY][:, :250].min() == 1 and not out.steps[STEP_POLARITY][:, 250:].any()
    )


def test_partial_alpha_gives_partial_ink():
    """A half-transparent white stroke on a transparent background is half-bright ink."""
    out = preprocess_canvas(draw("1", ink=(255, 255, 255, 128), background=CLEAR))
    assert out.steps[STEP_POLARITY].max() == pytest.approx(128 / 255, abs=1e-6)
    assert not out.is_empty


def test_grey_paper_background_is_mapped_to_black():
    """A dark stroke on grey paper: the paper becomes 0 and the stroke becomes full ink."""
    gray = np.full((100, 100), 0.8, np.float32)
    gray[20:80, 45:55] = 0.0
    out = preprocess_image(gray)
    assert out.inverted
    assert out.steps[STEP_POLARITY].min() == 0 and out.steps[STEP_POLARITY].max() == 1


def test_rgb_gray_and_rgba_inputs_agree():
    """(H, W, 3) RGB, (H, W) uint8, (H, W, 1) and float grayscale give the RGBA result."""
    rgba = draw("0")
    reference = preprocess_canvas(rgba).image
    gray = rgba[..., 0]
    for arr in (rgba[..., :3], gray, gray[..., None]):
        np.testing.assert_allclose(preprocess_canvas(arr).image, reference, atol=1e-6)
    np.testing.assert_allclose(preprocess_image(gray).image, reference, atol=1e-6)
    np.testing.assert_allclose(preprocess_image(gray / 255.0).image, reference, atol=1e-5)


# ---------------------------------------------------------------- center=False


@pytest.mark.parametrize("corner", CORNERS)
def test_center_false_keeps_a_corner_digit_in_its_corner(corner):
    """Without centring the whole canvas is scaled down, so the digit stays in its quadrant."""
    out = preprocess_canvas(draw("0", CORNERS[corner]), center=False)
    assert not out.is_empty and out.shift == (0.0, 0.0)
    assert list(out.steps) == [STEP_GRAY, STEP_POLARITY, STEP_DOWNSCALE]
    cy, cx = center_of_mass(out.image)
    assert (cy < 10) == corner.startswith("top") and (cy > 17) == corner.startswith("bottom")
    assert (cx < 10) == corner.endswith("left") and (cx > 17) == corner.endswith("right")


def test_center_false_pads_a_wide_canvas_to_a_square():
    """A 140x280 canvas is padded to 280x280 before the 28x28 downscale, keeping proportions."""
    rgba = draw("1", (100, 10, 180, 130), size=(280, 140))
    out = preprocess_canvas(rgba, center=False)
    assert out.steps[STEP_SQUARE].shape == (280, 280)
    assert out.image.shape == (28, 28)
    rows, cols = ink_extent(out.image, level=0.1)
    assert 11 <= rows <= 14 and cols <= 4  # 120 px tall -> 12 px, 20 px wide -> 2 px


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("arr", "message"),
    [
        (np.zeros(10, np.uint8), r"shape \(H, W\)"),
        (np.zeros((4, 4, 4, 4), np.uint8), r"shape \(H, W\)"),
        (np.zeros((8, 8, 2), np.uint8), r"got shape \(8, 8, 2\)"),
        (np.zeros((0, 0, 4), np.uint8), "is empty"),
        (np.zeros((0, 280), np.uint8), "is empty"),
        (np.full((8, 8), np.nan), "NaN"),
        (np.full((8, 8, 4), np.inf, np.float32), "infinite"),
        (np.zeros((5000, 1, 4), np.uint8), "largest accepted side is 4096"),
        (np.full((8, 8), 255.0), r"float images must be in \[0, 1\]"),
        (np.full((8, 8), 300), r"expected 0\.\.255"),
        (np.full((8, 8), "a"), "dtype"),
        (None, "shape"),
    ],
    ids=[
        "1-D",
        "4-D",
        "2 channels",
        "size zero",
        "no columns",
        "NaN",
        "inf",
        "huge",
        "float 0..255",
        "int too big",
        "strings",
        "None",
    ],
)
def test_invalid_canvas_raises_a_helpful_value_error(arr, message):
    """Bad arrays are refused with a ValueError whose sentence says what is wrong."""
    with pytest.raises(ValueError, match=message):
        preprocess_canvas(arr)


def test_invalid_options_and_image_rank_raise():
    """min_ink outside [0, 1), a non-bool center, and an RGB array to preprocess_image raise."""
    rgba = draw("1")
    with pytest.raises(ValueError, match="min_ink"):
        preprocess_canvas(rgba, min_ink=1.5)
    with pytest.raises(ValueError, match="center must be True or False"):
        preprocess_canvas(rgba, center="no")
    with pytest.raises(ValueError, match=r"shape \(H, W\), got"):
        preprocess_image(rgba)


# ---------------------------------------------------------------- center_of_mass


def test_center_of_mass_uses_pixel_centre_coordinates():
    """One pixel at (3, 5) has its mass at (3, 5); a uniform 28x28 image at (13.5, 13.5)."""
    img = np.zeros((28, 28))
    img[3, 5] = 0.7
    assert center_of_mass(img) == pytest.approx((3.0, 5.0))
    assert center_of_mass(np.ones((28, 28))) == (13.5, 13.5)
    with pytest.raises(ValueError, match="no ink"):
        center_of_mass(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="2-D"):
        center_of_mass(np.ones((2, 2, 2)))


def test_module_imports_only_numpy_pillow_and_the_standard_library():
    """preprocess.py imports numpy and Pillow, never streamlit, plotly or torch (read statically,
    so the test does not pay for importing torch)."""
    tree = ast.parse(Path(preprocess.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} <= {"dataclasses", "numbers", "numpy", "PIL"}


# ---------------------------------------------------------------- properties

coordinate = st.integers(20, SIZE - 20)  # strokes keep clear of the border (the background)
stroke = st.tuples(coordinate, coordinate, coordinate, coordinate, st.integers(3, 40))


def draw_strokes(strokes, ink=WHITE, background=BLACK):
    """Random straight strokes (x0, y0, x1, y1, width) on a 280x280 RGBA canvas."""
    img = Image.new("RGBA", (SIZE, SIZE), background)
    pen = ImageDraw.Draw(img)
    for x0, y0, x1, y1, width in strokes:
        pen.line([(x0, y0), (x1, y1)], fill=ink, width=width)
    return np.array(img)


@settings(max_examples=60, deadline=None)
@given(strokes=st.lists(stroke, min_size=1, max_size=4), center=st.booleans())
def test_random_strokes_give_a_valid_uncut_image(strokes, center):
    """For any strokes: a (28, 28) float32 image in [0, 1]; with centring the longer side is
    20 px, the centring shift loses no ink, and the ink stays inside the 28x28 frame; the
    opposite polarity and a transparent background give the same image."""
    rgba = draw_strokes(strokes)
    out = preprocess_canvas(rgba, center=center)
    assert out.image.shape == (28, 28) and out.image.dtype == np.float32
    assert out.image.min() >= 0 and out.image.max() <= 1
    if out.is_empty:
        assert not out.image.any()
        return
    if center:
        scaled = out.steps[STEP_SCALE]
        assert max(scaled.shape) == BOX
        assert out.image.sum() == pytest.approx(scaled.sum(), rel=1e-5)
        assert max(ink_extent(out.image)) <= BOX
    for ink, background in [(BLACK, WHITE), (WHITE, CLEAR), (BLACK, CLEAR)]:
        other = preprocess_canvas(draw_strokes(strokes, ink, background), center=center)
        np.testing.assert_allclose(other.image, out.image, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(corners=st.tuples(coordinate, coordinate, coordinate, coordinate))
def test_random_rectangle_is_centred(corners):
    """A filled rectangle anywhere on the canvas ends with its centre of mass within 1 px of
    (13.5, 13.5) (a symmetric shape never needs a clamped shift)."""
    x0, y0, x1, y1 = corners
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[min(y0, y1) : max(y0, y1) + 1, min(x0, x1) : max(x0, x1) + 1] = WHITE
    out = preprocess_canvas(rgba, min_ink=0)
    cy, cx = center_of_mass(out.image)
    assert abs(cy - FRAME_CENTRE) <= 1 and abs(cx - FRAME_CENTRE) <= 1
