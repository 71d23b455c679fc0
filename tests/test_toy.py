"""cnn_core.toy: the shared toy example, kernel presets and grids typed as text."""

import numpy as np
import pytest

from cnn_core import ops, toy


def test_toy_defaults_are_binary_7x7_and_3x3():
    """The toy image is 7x7 and the toy kernel 3x3, both of zeros and ones only."""
    assert toy.TOY_IMAGE.shape == (7, 7) and toy.TOY_KERNEL.shape == (3, 3)
    assert set(np.unique(toy.TOY_IMAGE)) == {0.0, 1.0}
    assert set(np.unique(toy.TOY_KERNEL)) == {0.0, 1.0}


def test_toy_convolution_by_hand():
    """The top-left output cell of the toy, worked by hand: the X kernel over rows 0-2, cols 0-2
    covers image cells (0,0) (0,2) (1,1) (2,0) (2,2) = 0 + 0 + 1 + 0 + 0 = 1."""
    out = ops.conv2d(toy.TOY_IMAGE[None], toy.TOY_KERNEL[None, None], np.zeros(1, np.float32))
    assert out.shape == (1, 5, 5)
    assert out[0, 0, 0] == 1.0


def test_toy_features_are_the_toy_conv_map_max_pooled_and_flattened():
    """toy_features equals PyTorch's conv of the toy image with the toy kernel, max-pooled 2x2
    and flattened: [[3, 4, 2, 4]] as float32."""
    """The dense toy's x is what PyTorch gives for the toy image through conv2d (toy kernel),
    max_pool2d(2) and flatten: one row of 4 features (3, 4, 2, 4)."""
    import torch
    import torch.nn.functional as F

    image = torch.from_numpy(toy.TOY_IMAGE)[None, None]
    kernel = torch.from_numpy(toy.TOY_KERNEL)[None, None]
    expected = torch.flatten(F.max_pool2d(F.conv2d(image, kernel), 2), start_dim=1)
    x = toy.toy_features()
    assert x.shape == (1, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x, expected.numpy())
    np.testing.assert_array_equal(x, [[3, 4, 2, 4]])


@pytest.mark.parametrize("name", sorted(toy.KERNEL_PRESETS))
def test_presets_are_finite_3x3_and_survive_the_text_round_trip(name):
    """Every kernel preset is a finite 3x3 grid that format_grid then parse_grid give back
    within rounding."""
    kernel = toy.KERNEL_PRESETS[name]
    assert kernel.shape == (3, 3) and np.isfinite(kernel).all()
    back = toy.parse_grid(toy.format_grid(kernel), shape=(3, 3))
    np.testing.assert_allclose(back, kernel, atol=5e-5)


def test_blur_presets_keep_the_brightness():
    """The box and Gaussian blur presets sum to 1, so blurring keeps the image's brightness."""
    for name in ("box blur", "Gaussian blur"):
        assert toy.KERNEL_PRESETS[name].sum() == pytest.approx(1.0, abs=1e-6)


def test_parse_accepts_spaces_commas_and_blank_edges():
    """parse_grid accepts spaces, commas and blank leading/trailing lines and returns float32."""
    grid = toy.parse_grid("\n 1, 2 ,3\n4 5 6 \n\n")
    np.testing.assert_array_equal(grid, [[1, 2, 3], [4, 5, 6]])
    assert grid.dtype == np.float32


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("   \n  ", "empty"),
        ("1 2\n\n3 4", "Row 2"),
        ("1 2\n3", "different lengths"),
        ("1 nan", "NaN"),
        ("1 NaN\n1 1", "NaN"),
        ("inf 0", "infinite"),
        ("-inf 0", "infinite"),
        ("1e38 0", "within"),
        ("1 x", "not a number"),
        ("<script>alert(1)</script>", "not a number"),
        ("1 " * 3000, "too long"),
        ("\n".join(["1 " * 15] * 15), "at most 14x14"),
    ],
)
def test_parse_refuses_with_a_reason(text, words):
    """parse_grid refuses empty text, blank or ragged rows, NaN, infinities, huge numbers, words
    and oversized grids with a reason naming the problem."""
    with pytest.raises(ValueError, match=words):
        toy.parse_grid(text, name="kernel")


def test_parse_checks_a_required_shape():
    """parse_grid with shape=(3, 3) refuses a 2x2 grid, saying both shapes."""
    with pytest.raises(ValueError, match="must be 3x3; this one is 2x2"):
        toy.parse_grid("1 2\n3 4", name="kernel", shape=(3, 3))


def test_parse_refuses_non_text():
    """parse_grid refuses None with 'must be text' rather than an AttributeError."""
    with pytest.raises(ValueError, match="must be text"):
        toy.parse_grid(None)  # type: ignore[arg-type]


def test_format_writes_zero_without_a_sign():
    """format_grid writes -0.0 as 0 and refuses a 1-D array."""
    assert toy.format_grid(np.array([[-0.0, 1.5]])) == "0 1.5"
    with pytest.raises(ValueError):
        toy.format_grid(np.zeros(3))
