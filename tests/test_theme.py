"""ui/theme.py: which scale a set of values gets and the (zmin, zmax) ranges of the colour-range
modes. Signed values get a range symmetric around 0 (so 0 is the scale's middle, white), the
others a range from 0; an all-zero map still gets a valid range."""

from __future__ import annotations

import numpy as np
import pytest

from ui import theme


def test_values_with_a_negative_are_signed_and_get_the_diverging_scale():
    """One negative entry makes values signed (diverging scale); zeros and positives do not."""
    assert theme.is_signed([0.0, 2.0, -1e-9]) and theme.colorscale_for([0.0, -1.0]) == "RdBu_r"
    assert not theme.is_signed(np.zeros((2, 3)))
    assert theme.colorscale_for([[0.0, 3.0]]) == theme.SEQUENTIAL != theme.DIVERGING


def test_a_nan_does_not_decide_the_sign():
    """NaN cells are ignored when deciding whether a map is signed."""
    assert not theme.is_signed([np.nan, 1.0]) and theme.is_signed([np.nan, -1.0])


@pytest.mark.parametrize(
    ("values", "signed", "expected"),
    [
        ([-2.0, 1.0], None, (-2.0, 2.0)),  # symmetric around 0 by the largest magnitude
        ([-0.5, 3.0], None, (-3.0, 3.0)),
        ([0.0, 0.25], None, (0.0, 0.25)),  # non-negative: from 0
        ([0.0, 0.25], True, (-0.25, 0.25)),  # forced signed (a layer with negatives elsewhere)
        ([-1.0, 0.5], False, (0.0, 1.0)),  # forced unsigned keeps the largest magnitude
        (np.zeros((3, 3)), None, (0.0, 1.0)),  # all zero: a valid range, not (0, 0)
        (np.zeros(0), False, (0.0, 1.0)),  # no values at all
    ],
)
def test_value_range(values, signed, expected):
    """value_range is (-m, m) for signed values and (0, m) otherwise, m the largest magnitude
    (1 when every value is 0)."""
    assert theme.value_range(values, signed) == pytest.approx(expected)


def _maps() -> np.ndarray:
    """Two 2x2 maps, one faint and positive, one strong and signed."""
    return np.array([[[0.0, 0.1], [0.2, 0.1]], [[-4.0, 1.0], [2.0, 0.0]]])


def test_per_map_ranges_follow_each_map_with_the_layers_sign():
    """'per map': each map its own magnitude, all symmetric because the layer has negatives."""
    assert theme.map_ranges(_maps(), "per map") == [
        pytest.approx((-0.2, 0.2)),
        pytest.approx((-4.0, 4.0)),
    ]


def test_per_layer_ranges_are_one_range_for_every_map():
    """'per layer': every map gets the layer's range, so channels can be compared."""
    assert theme.map_ranges(_maps(), "per layer") == [pytest.approx((-4.0, 4.0))] * 2
    positive = np.abs(_maps())
    assert theme.map_ranges(positive, "per layer") == [pytest.approx((0.0, 4.0))] * 2


def test_global_ranges_come_from_every_stage():
    """'global': the range (and the sign) of the values of all stages, not of this one."""
    everything = np.array([-10.0, 7.0])
    assert (
        theme.map_ranges(np.abs(_maps()), "global", everything)
        == [pytest.approx((-10.0, 10.0))] * 2
    )
    assert (
        theme.map_ranges(_maps(), "global", np.array([0.0, 5.0])) == [pytest.approx((0.0, 5.0))] * 2
    )


def test_an_unknown_colour_mode_is_refused_with_the_modes():
    """A colour-range mode outside COLOR_MODES raises ValueError listing the three modes."""
    with pytest.raises(ValueError, match="per map, per layer, global"):
        theme.map_ranges(_maps(), "per pixel")


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(1.0, 2, "1.00"), (-0.123, 2, "-0.12"), (0.5, 0, "0"), (-0.001, 2, "0"), (-0.0, 3, "0"),
     (12.3456, 3, "12.346"), (-2.5, 1, "-2.5")],
)  # fmt: skip
def test_cell_text_has_fixed_decimals_and_no_minus_zero(value, digits, text):
    """cell_text prints ``digits`` decimals, and a value that rounds to zero as a plain 0."""
    assert theme.cell_text(value, digits) == text


def test_channel_colours_are_distinct_hex_colours():
    """Each of the ten channel colours is a different #rrggbb colour."""
    colours = theme.CHANNEL_COLOURS
    assert len(set(colours)) == len(colours) == 10
    assert all(len(c) == 7 and c[0] == "#" and int(c[1:], 16) >= 0 for c in colours)
