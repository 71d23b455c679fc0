"""ui/images.py: maps to the coloured images of the overview strip. Checked by what a reader of
the strip relies on, whatever colour stops the scales use: shapes and dtype, a sequential scale
that gets brighter with the value, a diverging scale that is near-white at 0, blue below and red
above and darker the further from 0, values clipped to the range, and a montage whose tiles are
the enlarged maps separated by white lines."""

from __future__ import annotations

import numpy as np
import pytest

from ui import images


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance (Rec. 709 weights) of uint8 RGB colours."""
    return rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def test_colorize_gives_one_uint8_rgb_colour_per_value():
    """(H, W) values give an (H, W, 3) uint8 image."""
    out = images.colorize(np.linspace(-1, 1, 12).reshape(3, 4), -1.0, 1.0, signed=True)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8


def test_the_sequential_scale_gets_brighter_with_the_value():
    """From zmin to zmax the sequential colours' luminance never falls, and it rises overall."""
    lum = _luminance(images.colorize(np.linspace(0, 5, 101), 0.0, 5.0, signed=False))
    assert np.all(np.diff(lum) >= -1.0)  # 1: rounding of uint8 channels
    assert lum[-1] - lum[0] > 100


def test_the_diverging_scale_is_white_at_zero_blue_below_red_above():
    """At 0 the diverging colour is near-white; negatives are bluer than red, positives redder
    than blue."""
    neg, zero, pos = images.colorize(np.array([-1.0, 0.0, 1.0]), -1.0, 1.0, signed=True).astype(int)
    assert zero.min() >= 230
    assert neg[2] > neg[0] + 50 and pos[0] > pos[2] + 50


def test_the_diverging_scale_darkens_away_from_zero():
    """The further a value is from 0 (either sign), the darker its colour."""
    values = np.linspace(0, 1, 51)
    for sign in (1, -1):
        lum = _luminance(images.colorize(sign * values, -1.0, 1.0, signed=True))
        assert np.all(np.diff(lum) <= 1.0)  # 1: rounding of uint8 channels
        assert lum[0] - lum[-1] > 100


def test_values_outside_the_range_take_the_end_colours():
    """Values beyond zmin/zmax are clipped to the scale's end colours."""
    for signed, lo, hi in ((True, -2.0, 2.0), (False, 0.0, 2.0)):
        ends = images.colorize(np.array([lo, hi]), lo, hi, signed)
        beyond = images.colorize(np.array([lo - 100, hi + 100]), lo, hi, signed)
        np.testing.assert_array_equal(beyond, ends)


def test_an_empty_range_gives_colours_not_an_error():
    """zmin == zmax (a constant map) still gives valid colours, with no division by zero."""
    with np.errstate(all="raise"):
        out = images.colorize(np.full((2, 2), 3.0), 3.0, 3.0, signed=False)
    assert out.shape == (2, 2, 3) and np.all(out == out[0, 0])


@pytest.mark.parametrize(("count", "ncols", "nrows"), [(8, 8, 1), (16, 8, 2), (3, 8, 1), (5, 2, 3)])
def test_montage_tiles_the_maps_in_rows(count, ncols, nrows):
    """C maps of HxW tile into ceil(C / ncols) rows of min(ncols, C) tiles, each ``scale`` times
    larger plus a 2-pixel white line."""
    maps = np.random.default_rng(count).normal(size=(count, 5, 4)).astype(np.float32)
    out = images.montage(maps, scale=3, ncols=ncols)
    cols = min(ncols, count)
    assert out.dtype == np.uint8 and out.shape == (nrows * (5 * 3 + 2), cols * (4 * 3 + 2), 3)


def test_montage_tiles_are_the_enlarged_maps_between_white_lines():
    """Each tile is its map coloured on the layer's range and enlarged by repetition; the lines
    between tiles are white."""
    maps = np.stack([np.full((2, 2), 1.0), np.array([[0.0, 2.0], [4.0, 3.0]])]).astype(np.float32)
    out = images.montage(maps, mode="per layer", scale=2, ncols=2)
    cell_w = 2 * 2 + 2
    for k in range(2):
        tile = out[:4, k * cell_w : k * cell_w + 4]
        expected = images.colorize(maps[k], 0.0, 4.0, signed=False).repeat(2, 0).repeat(2, 1)
        np.testing.assert_array_equal(tile, expected)
    assert np.all(out[:, 4:6] == 255) and np.all(out[4:, :] == 255)


def test_montage_per_map_stretches_a_faint_map():
    """With 'per map', a faint map's largest value gets the top colour, as the strong map's
    does; with 'per layer' it stays dark."""
    maps = np.stack([np.array([[0.0, 0.1]]), np.array([[0.0, 10.0]])]).astype(np.float32)
    per_map = images.montage(maps, mode="per map", scale=1, ncols=2)
    per_layer = images.montage(maps, mode="per layer", scale=1, ncols=2)
    faint_top, strong_top = per_map[0, 1], per_map[0, 4 + 1]  # a tile is 1 + 1 + 2 px wide
    np.testing.assert_array_equal(faint_top, strong_top)
    assert _luminance(per_layer[0, 1]) < _luminance(per_map[0, 1]) - 50


def test_grayscale_enlarges_and_clips_to_uint8():
    """A [0, 1] image becomes uint8 0..255, each pixel a scale x scale block; values outside
    [0, 1] are clipped."""
    image = np.array([[0.0, 1.0], [0.5, 7.0]], np.float32)
    out = images.grayscale(image, scale=3)
    assert out.shape == (6, 6) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[::3, ::3], [[0, 255], [127, 255]])
    np.testing.assert_array_equal(out[:3, :3], 0)
    assert images.grayscale(np.array([[-1.0]]), scale=1)[0, 0] == 0


@pytest.mark.parametrize("signed", [True, False])
def test_png_colours_are_plotlys_colours_for_the_same_value(signed):
    """A PNG pixel has the colour Plotly gives the same value on the same scale (RdBu_r for
    signed maps, Viridis otherwise): plotly.colors' interpolation between the scale's stops,
    rounded to whole RGB values; at the stops themselves exactly the stop colours."""
    from plotly import colors

    from ui import theme

    scale = theme.DIVERGING if signed else theme.SEQUENTIAL
    zmin, zmax = (-2.0, 2.0) if signed else (0.0, 4.0)
    values = np.linspace(zmin, zmax, 97)
    png = images.colorize(values, zmin, zmax, signed).astype(np.float64)  # (97, 3)
    t = list((values - zmin) / (zmax - zmin))
    plotly_rgb = 255 * np.array(colors.sample_colorscale(scale, t, colortype="tuple"))
    assert np.abs(png - plotly_rgb).max() <= 0.5 + 1e-6
    stops = colors.get_colorscale(scale)
    at_stops = images.colorize(
        np.array([zmin + p * (zmax - zmin) for p, _ in stops]), zmin, zmax, signed
    )
    for (_, colour), got in zip(stops, at_stops, strict=True):
        rgb = colors.convert_colors_to_same_type(colour, "rgb")[0][0]
        assert tuple(got) == tuple(int(v) for v in colors.unlabel_rgb(rgb))


def test_square_thumbnail_centres_the_image_on_black():
    """A 2x4 image sits in the middle rows of a black 4x4 square, enlarged to 84 // 4 = 21
    times; a square image is only enlarged."""
    image = np.ones((2, 4), np.float32)
    out = images.square_thumbnail(image, size_px=84)
    assert out.shape == (84, 84) and out.dtype == np.uint8
    assert np.all(out[:21] == 0) and np.all(out[21:63] == 255) and np.all(out[63:] == 0)
    np.testing.assert_array_equal(
        images.square_thumbnail(np.eye(2), 4), images.grayscale(np.eye(2), 2)
    )


def test_a_large_image_is_reduced_to_a_thumbnail_by_block_means():
    """A 280x280 canvas becomes 70x70 for an 84-pixel thumbnail (blocks of 4x4 averaged): a
    stroke one pixel wide stays visible (a quarter as bright), the picture is not cut, and a
    181x20 crop is centred on a square padded to whole blocks (61x61 of 3x3)."""
    canvas = np.zeros((280, 280), np.float32)
    canvas[:, 141] = 1.0  # a vertical line one pixel wide
    out = images.square_thumbnail(canvas, size_px=84)
    assert out.shape == (70, 70) and out.dtype == np.uint8
    assert np.all(out[:, 35] == 63) and out.sum() == 70 * 63  # 255 / 4, in one column only
    crop = np.ones((181, 20), np.float32)
    small = images.square_thumbnail(crop, size_px=84)
    assert small.shape == (61, 61)
    assert small.max() == 255 and small[:, :25].max() == 0 and small[:, 37:].max() == 0


@pytest.mark.parametrize("mode", ["per map", "per layer", "global"])
def test_montage_tiles_are_colorize_of_each_map_over_its_range(mode):
    """The montage colours all maps at once; each tile equals colorize of its map over the
    range the colour-range mode gives that map, value for value (no rounding apart)."""
    from ui import theme

    maps = np.random.default_rng(3).normal(size=(5, 4, 3)).astype(np.float32)
    maps[2] = 0.0  # an all-zero map: an empty range
    everything = np.concatenate([maps.ravel(), [-4.0, 6.0]]) if mode == "global" else None
    out = images.montage(maps, mode, everything, scale=2, ncols=3, gap=1)
    ranges = theme.map_ranges(maps, mode, everything)
    signed = theme.is_signed(maps if mode != "global" else everything)
    for k, (m, (lo, hi)) in enumerate(zip(maps, ranges, strict=True)):
        r, c = divmod(k, 3)
        tile = out[r * 9 : r * 9 + 8, c * 7 : c * 7 + 6]
        expected = images.colorize(m, lo, hi, signed).repeat(2, 0).repeat(2, 1)
        np.testing.assert_array_equal(tile, expected)
    assert (out[8::9] == 255).all() and (out[:, 6::7] == 255).all()  # the white lines
    assert (out[9:, 2 * 7 :] == 255).all()  # the empty sixth cell


@pytest.mark.parametrize(
    "image",
    [
        np.arange(35, dtype=np.uint8).reshape(5, 7) * 7,
        np.random.default_rng(4).integers(0, 256, (6, 9, 3), dtype=np.uint8),
        np.full((1, 1), 200, np.uint8),
        np.zeros((3, 2, 1), np.uint8),
    ],
)
def test_png_bytes_decode_to_the_same_pixels(image):
    """The PNG written by png_bytes is read back by Pillow (an independent decoder) as the same
    pixels, grey or RGB; data_uri wraps those bytes in base64."""
    import base64
    import io

    from PIL import Image

    raw = images.png_bytes(image)
    decoded = np.asarray(Image.open(io.BytesIO(raw)))
    np.testing.assert_array_equal(decoded, image.reshape(decoded.shape))
    uri = images.data_uri(image)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == raw


@pytest.mark.parametrize("shape", [(0, 4), (4, 4, 4), (2, 3, 4, 5)])
def test_png_bytes_refuses_what_is_not_a_grey_or_rgb_image(shape):
    with pytest.raises(ValueError, match="expected an"):
        images.png_bytes(np.zeros(shape, np.uint8))
