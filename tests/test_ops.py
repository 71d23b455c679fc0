"""cnn_core.ops: the NumPy teaching ops against torch.nn.functional (the oracle).

Every comparison states its tolerance below, with the reason it is that size.
"""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_core import ops

# Both sides compute in float64 on the same float64 inputs; only the order of summation differs
# (at most 3 channels x 5 x 5 = 75 products of magnitude <= 1), so errors are ~1e-15.
F64_ATOL = 1e-12
# PyTorch computes in float32 (eps ~1.2e-7) while the ops accumulate the same float32 inputs in
# float64; a sum of <= 75 products of magnitude <= 1 can differ by ~75 * eps ~ 1e-5.
F32_ATOL = 1e-5
F32_RTOL = 1e-5
# Element-wise float32 functions (sigmoid, tanh) differ from PyTorch's by at most a few ulp.
ELEMENTWISE_F32_ATOL = 1e-6
# Hand-checked cases are small integers or exact fractions: only float64 rounding remains.
EXACT_ATOL = 1e-12

# Raise on the floating-point events that mean a wrong answer. Underflow is left out on purpose:
# exp(-2000) rounding to 0 is the correctly rounded result (and numpy ignores it by default).
STRICT_FP = {"over": "raise", "divide": "raise", "invalid": "raise"}

HYPOTHESIS = settings(max_examples=50, deadline=None)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _torch_conv(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """torch.nn.functional.conv2d on one (C, H, W) image, as NumPy."""
    b = None if bias is None else torch.from_numpy(bias)
    out = F.conv2d(
        torch.from_numpy(x)[None], torch.from_numpy(weight), b, stride, padding, dilation
    )
    return out[0].numpy()


def _torch_max_pool(x, kernel, stride, padding, ceil_mode):
    out, idx = F.max_pool2d(
        torch.from_numpy(x)[None],
        kernel,
        stride,
        padding,
        ceil_mode=ceil_mode,
        return_indices=True,
    )
    return out[0].numpy(), idx[0].numpy()


def _torch_avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad):
    out = F.avg_pool2d(
        torch.from_numpy(x)[None],
        kernel,
        stride,
        padding,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )
    return out[0].numpy()


# ----------------------------------------------------------------------------------------------
# conv2d against PyTorch


@pytest.mark.parametrize(
    "channels", [(1, 1), (2, 3), (3, 2)], ids=lambda c: f"cin{c[0]}-cout{c[1]}"
)
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize(
    "kernel", [(1, 1), (3, 3), (5, 5), (2, 3)], ids=lambda k: f"k{k[0]}x{k[1]}"
)
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv2d_matches_torch(stride, padding, kernel, dilation, channels):
    """conv2d equals F.conv2d (float64 and float32) for every stride/padding/kernel/dilation."""
    c_in, c_out = channels
    rng = _rng(hash((stride, padding, kernel, dilation, channels)) % 2**32)
    # 9x10 is large enough for a 5x5 kernel with dilation 2 (span 9) and no padding.
    x = rng.uniform(-1, 1, (c_in, 9, 10))
    w = rng.uniform(-1, 1, (c_out, c_in, *kernel))
    b = rng.uniform(-1, 1, c_out)
    got = ops.conv2d(x, w, b, stride, padding, dilation)
    expected = _torch_conv(x, w, b, stride, padding, dilation)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=F64_ATOL)

    x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    expected32 = _torch_conv(x32, w32, b32, stride, padding, dilation)
    got32 = ops.conv2d(x32, w32, b32, stride, padding, dilation)
    np.testing.assert_allclose(got32, expected32, rtol=F32_RTOL, atol=F32_ATOL)


def test_conv2d_without_bias_and_with_pairs_matches_torch():
    """conv2d with bias=None and different (height, width) stride/padding/dilation equals torch."""
    rng = _rng(1)
    x, w = rng.uniform(-1, 1, (2, 8, 11)), rng.uniform(-1, 1, (3, 2, 3, 2))
    for stride, padding, dilation in [((1, 2), (2, 0), (1, 1)), ((3, 1), (0, 1), (2, 3))]:
        got = ops.conv2d(x, w, None, stride, padding, dilation)
        np.testing.assert_allclose(
            got, _torch_conv(x, w, None, stride, padding, dilation), rtol=0, atol=F64_ATOL
        )


def test_conv2d_accepts_lists_and_integer_images():
    """Nested lists and integer arrays are accepted and give the same result as float arrays."""
    x = [[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]
    w = [[[[1, 0], [0, 1]]]]
    np.testing.assert_array_equal(ops.conv2d(x, w), [[[6, 8], [12, 14]]])
    np.testing.assert_array_equal(ops.conv2d(np.array(x, dtype=np.int64), w), [[[6, 8], [12, 14]]])


# ----------------------------------------------------------------------------------------------
# conv2d_at: one output cell, with all its parts


@pytest.mark.parametrize("dilation", [1, 2])
def test_conv2d_at_equals_conv2d_everywhere_and_parts_are_consistent(dilation):
    """At every output cell, conv2d_at's value is conv2d's, and its parts add up as documented:
    products = patch * kernel, channel_sums = summed products, value = sum + bias, rows/cols are
    input coordinates, and cells that fall in the padding are 0."""
    rng = _rng(2)
    x = rng.uniform(-1, 1, (2, 5, 6))
    w, b = rng.uniform(-1, 1, (3, 2, 3, 2)), rng.uniform(-1, 1, 3)
    stride, padding = (2, 1), (1, 2)
    full = ops.conv2d(x, w, b, stride, padding, dilation)
    c_out, h_out, w_out = full.shape
    for o, i, j in itertools.product(range(c_out), range(h_out), range(w_out)):
        step = ops.conv2d_at(x, w, b, stride, padding, o, i, j, dilation=dilation)
        assert abs(step.value - full[o, i, j]) <= F64_ATOL
        assert (step.out_channel, step.row, step.col) == (o, i, j)
        np.testing.assert_array_equal(step.kernel, w[o])
        np.testing.assert_array_equal(step.products, step.patch * step.kernel)
        np.testing.assert_array_equal(step.channel_sums, step.products.sum(axis=(1, 2)))
        assert step.bias == b[o]
        assert step.value == float(step.channel_sums.sum() + step.bias)
        np.testing.assert_array_equal(
            step.rows, i * stride[0] - padding[0] + dilation * np.arange(3)
        )
        np.testing.assert_array_equal(
            step.cols, j * stride[1] - padding[1] + dilation * np.arange(2)
        )
        assert step.window == (step.rows[0], step.cols[0], step.rows[-1], step.cols[-1])
        for (u, r), (v, c) in itertools.product(enumerate(step.rows), enumerate(step.cols)):
            inside = 0 <= r < x.shape[1] and 0 <= c < x.shape[2]
            expected = x[:, r, c] if inside else np.zeros(x.shape[0])
            np.testing.assert_array_equal(step.patch[:, u, v], expected)


def test_conv2d_at_without_bias_has_zero_bias():
    """With bias=None the step's bias is 0.0 and the value is the sum of the products."""
    x, w = np.arange(9.0).reshape(1, 3, 3), np.ones((1, 1, 2, 2))
    step = ops.conv2d_at(x, w, None, 1, 0, 0, 1, 1)
    assert step.bias == 0.0
    assert step.value == 4 + 5 + 7 + 8


# ----------------------------------------------------------------------------------------------
# Hand-checkable convolutions (expected values worked out by hand)

X_4X4 = np.arange(1, 17, dtype=np.float64).reshape(1, 4, 4)  # rows 1-4, 5-8, 9-12, 13-16
K_2X2 = np.array([[1, 2], [3, 4]], dtype=np.float64)[None, None]


def test_conv2d_4x4_input_2x2_kernel_by_hand():
    """out[i, j] = x[i,j] + 2 x[i,j+1] + 3 x[i+1,j] + 4 x[i+1,j+1]; e.g. 1 + 4 + 15 + 24 = 44."""
    expected = np.array([[44, 54, 64], [84, 94, 104], [124, 134, 144]], dtype=np.float64)
    np.testing.assert_allclose(ops.conv2d(X_4X4, K_2X2)[0], expected, atol=EXACT_ATOL)
    # a bias is added to every cell; stride 2 keeps every other window
    np.testing.assert_allclose(ops.conv2d(X_4X4, K_2X2, [1.0])[0], expected + 1, atol=EXACT_ATOL)
    np.testing.assert_allclose(
        ops.conv2d(X_4X4, K_2X2, stride=2)[0], [[44, 64], [124, 144]], atol=EXACT_ATOL
    )
    step = ops.conv2d_at(X_4X4, K_2X2, None, 1, 0, 0, 0, 0)
    np.testing.assert_array_equal(step.products[0], [[1, 4], [15, 24]])
    assert step.value == 44


def test_conv2d_with_padding_4x4_by_hand():
    """Padding 1 around the 4x4 input: the corner cell sees only 16 * 1 (kernel cell (0, 0))."""
    out = ops.conv2d(X_4X4, K_2X2, padding=1)[0]
    assert out.shape == (5, 5)
    # top-left window covers [pad, pad; pad, 1]: 4 * 1 = 4; bottom-right covers [16, pad; pad, pad]
    assert out[0, 0] == 4 * 1
    assert out[4, 4] == 1 * 16
    # top edge, column 1: kernel row 1 over x[0, 0:2] = 3 * 1 + 4 * 2 = 11
    assert out[0, 1] == 11


IMG_5X5 = np.array(
    [
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1],
    ],
    dtype=np.float64,
)[None]
VERTICAL_EDGE = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=np.float64)[None, None]


def test_vertical_edge_kernel_on_binary_image_by_hand():
    """A vertical-edge kernel answers 3 where a window straddles the 0|1 edge, 0 on flat areas."""
    expected = np.array([[3, 3, 0], [3, 3, 0], [3, 3, 0]], dtype=np.float64)
    np.testing.assert_allclose(ops.conv2d(IMG_5X5, VERTICAL_EDGE)[0], expected, atol=EXACT_ATOL)


def test_vertical_edge_kernel_with_padding_by_hand():
    """With padding 1 the zero border makes a second (negative) edge on the right, and the top and
    bottom rows see only 2 of the 3 kernel rows."""
    expected = np.array(
        [
            [0, 2, 2, 0, -2],
            [0, 3, 3, 0, -3],
            [0, 3, 3, 0, -3],
            [0, 3, 3, 0, -3],
            [0, 2, 2, 0, -2],
        ],
        dtype=np.float64,
    )
    out = ops.conv2d(IMG_5X5, VERTICAL_EDGE, padding=1)[0]
    np.testing.assert_allclose(out, expected, atol=EXACT_ATOL)


# ----------------------------------------------------------------------------------------------
# Pooling against PyTorch


def _pool_cases():
    """(kernel, stride, padding, ceil_mode) for kernel 1-3, stride None/1-3, padding 0..k//2."""
    return [
        (k, s, p, ceil)
        for k in (1, 2, 3)
        for s in (None, 1, 2, 3)
        for p in range(k // 2 + 1)
        for ceil in (False, True)
    ]


def _pool_id(case):
    k, s, p, ceil = case
    return f"k{k}-s{s}-p{p}-{'ceil' if ceil else 'floor'}"


@pytest.mark.parametrize("case", _pool_cases(), ids=_pool_id)
def test_max_pool2d_matches_torch_including_tie_indices(case):
    """max_pool2d's values and return_indices equal torch's exactly, on inputs full of ties
    (values drawn from {0, 1, 2}), so the winner chosen on a tie is PyTorch's."""
    k, s, p, ceil = case
    x = _rng(3).integers(0, 3, (2, 7, 8)).astype(np.float32)
    out, idx = ops.max_pool2d(x, k, s, p, ceil, return_indices=True)
    t_out, t_idx = _torch_max_pool(x, k, s, p, ceil)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(idx, t_idx)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(ops.max_pool2d(x, k, s, p, ceil), out)


def test_max_pool2d_tie_goes_to_first_cell_in_reading_order():
    """A window whose cells are all equal returns the top-left cell's index, as torch does."""
    x = np.array([[[5, 5, 1, 7], [5, 5, 7, 7]]], dtype=np.float32)  # (1, 2, 4)
    out, idx = ops.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(out, [[[5, 7]]])
    np.testing.assert_array_equal(idx, [[[0, 3]]])  # 0 = (0, 0); 3 = (0, 3), first of the 7s
    np.testing.assert_array_equal(idx, _torch_max_pool(x, 2, 2, 0, False)[1])


def test_max_pool2d_negative_values_ignore_padding():
    """Padding never wins a max: on an all-negative input the winners are real cells."""
    x = -np.arange(1.0, 10.0, dtype=np.float32).reshape(1, 3, 3)
    out, idx = ops.max_pool2d(x, 3, 1, 1, return_indices=True)
    t_out, t_idx = _torch_max_pool(x, 3, 1, 1, False)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(idx, t_idx)
    assert np.all(out < 0)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", _pool_cases(), ids=_pool_id)
def test_avg_pool2d_matches_torch(case, count_include_pad):
    """avg_pool2d equals F.avg_pool2d (float64 and float32), with and without counting padding,
    including partial ceil_mode windows at the edge."""
    k, s, p, ceil = case
    x = _rng(4).uniform(-1, 1, (2, 7, 8))
    got = ops.avg_pool2d(x, k, s, p, ceil, count_include_pad)
    expected = _torch_avg_pool(x, k, s, p, ceil, count_include_pad)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=F64_ATOL)
    x32 = x.astype(np.float32)
    got32 = ops.avg_pool2d(x32, k, s, p, ceil, count_include_pad)
    expected32 = _torch_avg_pool(x32, k, s, p, ceil, count_include_pad)
    np.testing.assert_allclose(got32, expected32, rtol=F32_RTOL, atol=F32_ATOL)


X_POOL = np.array(
    [
        [1, 3, 2, 0],
        [4, 2, 1, 5],
        [0, 1, 9, 2],
        [6, 2, 3, 8],
    ],
    dtype=np.float32,
)[None]


def test_max_pool2d_4x4_by_hand():
    """2x2 max pooling of a 4x4 map: winners 4 at (1,0), 5 at (1,3), 6 at (3,0), 9 at (2,2),
    i.e. flat indices h * 4 + w = 4, 7, 12, 10."""
    out, idx = ops.max_pool2d(X_POOL, 2, return_indices=True)
    np.testing.assert_array_equal(out[0], [[4, 5], [6, 9]])
    np.testing.assert_array_equal(idx[0], [[4, 7], [12, 10]])


def test_avg_pool2d_4x4_by_hand():
    """2x2 average pooling: (1+3+4+2)/4 = 2.5, (2+0+1+5)/4 = 2, (0+1+6+2)/4 = 2.25, 22/4 = 5.5."""
    np.testing.assert_allclose(
        ops.avg_pool2d(X_POOL, 2)[0], [[2.5, 2.0], [2.25, 5.5]], atol=EXACT_ATOL
    )


def test_avg_pool2d_padding_divisor_by_hand():
    """A 3x3 window over a 1x1 input with padding 1 holds one real cell: the mean divides by 9
    when padding counts and by 1 when it does not."""
    x = np.full((1, 1, 1), 9.0)
    assert ops.avg_pool2d(x, 3, 1, 1, count_include_pad=True)[0, 0, 0] == 1.0
    assert ops.avg_pool2d(x, 3, 1, 1, count_include_pad=False)[0, 0, 0] == 9.0


def test_pool_window_is_clipped_to_the_input():
    """pool_window gives the end-exclusive input cells of an output cell, without the padding."""
    assert ops.pool_window(0, 0, (3, 3), (2, 2), (1, 1), (5, 5)) == (0, 0, 2, 2)
    assert ops.pool_window(1, 2, (2, 2), (2, 2), (0, 0), (4, 6)) == (2, 4, 4, 6)
    assert ops.pool_window(2, 2, (2, 2), (2, 2), (0, 0), (5, 5)) == (4, 4, 5, 5)  # ceil edge


# ----------------------------------------------------------------------------------------------
# Activations

ACT_VALUES = np.concatenate([np.linspace(-20, 20, 81), [-1000.0, -88.0, 0.0, 88.0, 1000.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_matches_torch(dtype):
    """relu equals torch.relu exactly (it only picks values)."""
    x = ACT_VALUES.astype(dtype)
    np.testing.assert_array_equal(ops.relu(x), torch.relu(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 1.0])
def test_leaky_relu_matches_torch(slope):
    """leaky_relu equals F.leaky_relu for several negative slopes (float64: one multiply)."""
    x = ACT_VALUES
    expected = F.leaky_relu(torch.from_numpy(x), slope).numpy()
    np.testing.assert_allclose(ops.leaky_relu(x, slope), expected, rtol=0, atol=F64_ATOL)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_sigmoid_and_tanh_match_torch(name):
    """sigmoid and tanh equal torch's, in float64 and float32."""
    fn, oracle = getattr(ops, name), getattr(torch, name)
    np.testing.assert_allclose(
        fn(ACT_VALUES), oracle(torch.from_numpy(ACT_VALUES)).numpy(), rtol=0, atol=F64_ATOL
    )
    x32 = ACT_VALUES.astype(np.float32)
    np.testing.assert_allclose(
        fn(x32), oracle(torch.from_numpy(x32)).numpy(), rtol=0, atol=ELEMENTWISE_F32_ATOL
    )


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_saturate_without_overflow(dtype):
    """sigmoid(+-1000) is exactly 1 and 0 and tanh(+-1000) is +-1, with no overflow, invalid
    value or division warning (any warning fails this test)."""
    x = np.array([-1000.0, 1000.0], dtype=dtype)
    with np.errstate(**STRICT_FP):
        np.testing.assert_array_equal(ops.sigmoid(x), [0.0, 1.0])
        np.testing.assert_array_equal(ops.tanh(x), [-1.0, 1.0])
        np.testing.assert_array_equal(ops.sigmoid(np.array([0.0])), [0.5])


@pytest.mark.parametrize("name", ops.ACTIVATIONS)
def test_activation_dispatches_by_name(name):
    """activation(name, x) is the function called name."""
    x = ACT_VALUES
    args = (0.3,) if name == "leaky_relu" else ()
    expected = getattr(ops, name)(x, *args)
    np.testing.assert_array_equal(ops.activation(name, x, 0.3), expected)


@pytest.mark.parametrize("name", ops.ACTIVATIONS)
def test_activation_table_row_matches_its_torch_module(name):
    """Each row of the activation table: its NumPy op equals the torch.nn module it names (built
    from its PyTorch line), and its cell formula substitutes that cell's numbers."""
    act, slope = ops.ACTIVATIONS[name], 0.3
    module = eval(act.module_text(slope), {"nn": torch.nn})  # e.g. nn.LeakyReLU(negative_slope=0.3)
    assert type(module).__name__ == act.torch_module
    x = ACT_VALUES.astype(np.float32)
    expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(act(x, slope), expected, rtol=1e-6, atol=1e-7)
    y = float(act(np.float64(-1.5), slope))
    cell = act.cell_formula(-1.5, y, slope, "x_{0,0}")
    assert "x_{0,0}" in cell and "1.5000" in cell and cell.endswith(f"= {y:.4f}")


def test_unknown_activation_names_the_choices():
    """An unknown name is refused with a sentence listing the table's names."""
    with pytest.raises(ValueError, match="choose one of relu, leaky_relu, sigmoid, tanh"):
        ops.activation("gelu", ACT_VALUES)


# ----------------------------------------------------------------------------------------------
# Flatten


def test_flatten_order_is_torch_order():
    """flatten gives torch.flatten's order: channel, then row, then column."""
    x = _rng(5).uniform(-1, 1, (3, 4, 5))
    np.testing.assert_array_equal(ops.flatten(x), torch.flatten(torch.from_numpy(x)).numpy())


def test_flat_index_and_unflat_index_round_trip():
    """flat_index(c, h, w) = c*H*W + h*W + w points at x[c, h, w] in flatten(x), and unflat_index
    inverts it for every index."""
    shape = (3, 4, 5)
    x = np.arange(60.0).reshape(shape) * 7 + 1  # distinct values
    flat = ops.flatten(x)
    for c, h, w in itertools.product(*map(range, shape)):
        i = ops.flat_index(c, h, w, shape)
        assert i == c * 4 * 5 + h * 5 + w
        assert flat[i] == x[c, h, w]
        assert ops.unflat_index(i, shape) == (c, h, w)
    assert [ops.flat_index(*ops.unflat_index(i, shape), shape) for i in range(60)] == list(
        range(60)
    )


def test_flat_index_by_hand():
    """In a 16x7x7 map (the default model), cell (2, 3, 4) is 2*49 + 3*7 + 4 = 123."""
    assert ops.flat_index(2, 3, 4, (16, 7, 7)) == 123
    assert ops.unflat_index(783, (16, 7, 7)) == (15, 6, 6)


# ----------------------------------------------------------------------------------------------
# Dense, softmax, loss


def test_linear_matches_torch():
    """linear equals F.linear with and without a bias."""
    rng = _rng(6)
    x, w, b = rng.uniform(-1, 1, 12), rng.uniform(-1, 1, (5, 12)), rng.uniform(-1, 1, 5)
    tx, tw, tb = map(torch.from_numpy, (x, w, b))
    np.testing.assert_allclose(ops.linear(x, w, b), F.linear(tx, tw, tb).numpy(), atol=F64_ATOL)
    np.testing.assert_allclose(ops.linear(x, w), F.linear(tx, tw).numpy(), atol=F64_ATOL)


def test_linear_by_hand():
    """[[1, 2], [3, 4]] @ [1, 1] + [10, 20] = [13, 27]."""
    np.testing.assert_array_equal(ops.linear([1, 1], [[1, 2], [3, 4]], [10, 20]), [13, 27])


@pytest.mark.parametrize("temperature", [0.25, 1.0, 2.0, 10.0])
def test_softmax_matches_torch_with_temperature(temperature):
    """softmax(z, T) equals torch.softmax(z / T) and sums to 1."""
    z = _rng(7).normal(0, 3, 10)
    expected = torch.softmax(torch.from_numpy(z) / temperature, dim=0).numpy()
    p = ops.softmax(z, temperature)
    np.testing.assert_allclose(p, expected, rtol=0, atol=F64_ATOL)
    assert abs(p.sum() - 1) <= F64_ATOL
    np.testing.assert_allclose(
        ops.log_softmax(z, temperature), np.log(expected), rtol=0, atol=F64_ATOL
    )


@pytest.mark.filterwarnings("error")
def test_softmax_is_stable_for_huge_logits():
    """Logits of +-1000 give exact 0/1/0.5 probabilities summing to 1, with no overflow, invalid
    value or division warning."""
    with np.errstate(**STRICT_FP):
        np.testing.assert_array_equal(ops.softmax([1000.0, -1000.0, 0.0]), [1.0, 0.0, 0.0])
        np.testing.assert_array_equal(ops.softmax([1000.0, 1000.0]), [0.5, 0.5])
        np.testing.assert_array_equal(ops.softmax([-1000.0, -1000.0]), [0.5, 0.5])
        z = np.array([1000.0, 999.0, -1000.0])
        p = ops.softmax(z, temperature=0.5)
        expected = torch.softmax(torch.from_numpy(z) / 0.5, dim=0).numpy()
        np.testing.assert_allclose(p, expected, rtol=0, atol=F64_ATOL)
        assert abs(p.sum() - 1) <= F64_ATOL


def test_softmax_three_values_by_hand():
    """Logits (0, ln 2, ln 3) have exponentials 1, 2, 3 (sum 6): probabilities 1/6, 2/6, 3/6.
    Temperature 2 on doubled logits gives the same; equal logits give 1/3 each."""
    z = np.array([0.0, math.log(2), math.log(3)])
    np.testing.assert_allclose(ops.softmax(z), [1 / 6, 2 / 6, 3 / 6], rtol=0, atol=EXACT_ATOL)
    np.testing.assert_allclose(ops.softmax(2 * z, 2.0), [1 / 6, 2 / 6, 3 / 6], atol=EXACT_ATOL)
    np.testing.assert_allclose(ops.softmax([5.0, 5.0, 5.0]), [1 / 3] * 3, atol=EXACT_ATOL)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_cross_entropy_matches_torch(temperature):
    """cross_entropy(z, label, T) equals F.cross_entropy(z / T, label) for every label."""
    z = _rng(8).normal(0, 2, 10)
    for label in range(10):
        expected = F.cross_entropy(torch.from_numpy(z)[None] / temperature, torch.tensor([label]))
        got = ops.cross_entropy(z, label, temperature)
        assert abs(got - expected.item()) <= F64_ATOL


def test_cross_entropy_by_hand():
    """With probabilities (1/6, 2/6, 3/6) the loss for label 2 is -ln(1/2) = ln 2."""
    z = [0.0, math.log(2), math.log(3)]
    assert abs(ops.cross_entropy(z, 2) - math.log(2)) <= EXACT_ATOL


def test_entropy_uniform_and_certain():
    """Entropy of a uniform 10-way answer is ln 10; of a certain answer 0."""
    assert abs(ops.entropy(np.full(10, 0.1)) - math.log(10)) <= EXACT_ATOL
    assert abs(ops.entropy(ops.softmax(np.zeros(10))) - math.log(10)) <= EXACT_ATOL
    assert ops.entropy(np.eye(10)[3]) == 0.0


# ----------------------------------------------------------------------------------------------
# Output size


def _torch_size(size, k, s, p, d, ceil_mode):
    """torch's output length along one axis (pooling for ceil_mode; conv otherwise), or None if
    torch refuses the configuration."""
    x = torch.zeros(1, 1, size, 1)
    try:
        if ceil_mode:
            out = F.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=True)
        else:
            out = F.conv2d(x, torch.zeros(1, 1, k, 1), None, (s, 1), (p, 0), (d, 1))
    except RuntimeError:
        return None
    return out.shape[2]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv_output_size_matches_torch_shapes(dilation, ceil_mode):
    """conv_output_size equals the length of torch's actual output for sizes 1-9, kernels
    1/2/3/5, strides 1-3 and paddings 0-2; when it raises, torch refuses too; the only
    configurations torch refuses that it accepts are pooling paddings over half the window."""
    mismatches = []
    for size, k, s, p in itertools.product(range(1, 10), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2)):
        expected = _torch_size(size, k, s, p, dilation, ceil_mode)
        try:
            got = ops.conv_output_size(size, k, s, p, dilation, ceil_mode)
        except ValueError:
            got = None
        if ceil_mode and p > k // 2:
            # torch pooling also needs padding <= kernel_size // 2; conv_output_size is the size
            # formula only (max_pool2d checks the padding rule itself).
            continue
        if got != expected:
            mismatches.append(((size, k, s, p, dilation, ceil_mode), got, expected))
    assert not mismatches, mismatches


def test_conv_output_size_ceil_mode_drops_window_starting_in_right_padding():
    """3 cells, window 2, stride 2, padding 1, ceil_mode: ceil((3 + 2 - 2) / 2) + 1 = 3 windows,
    but the third would start at padded position 4, inside the right padding only, so PyTorch
    (and conv_output_size) drop it: 2."""
    assert math.ceil((3 + 2 * 1 - 2) / 2) + 1 == 3  # the plain ceil formula
    assert ops.conv_output_size(3, 2, 2, 1, ceil_mode=True) == 2
    assert F.max_pool2d(torch.zeros(1, 1, 3, 3), 2, 2, 1, ceil_mode=True).shape[2:] == (2, 2)
    out = ops.max_pool2d(np.zeros((1, 3, 3)), 2, 2, 1, ceil_mode=True)
    assert out.shape == (1, 2, 2)


def test_ceil_mode_keeps_a_window_larger_than_the_padded_input_as_torch_does():
    """In ceil_mode PyTorch keeps a window that hangs past the padded input as long as it starts
    inside it: pooling a 1x1 map with a 2x2 window and stride 2 gives 1x1 (the cell itself), and
    a 3x3 map with a 5x5 window, stride 3, padding 1 gives 1x1. Only the plain (floor) formula
    makes such an output empty."""
    x = np.full((1, 1, 1), 7.0)
    assert F.max_pool2d(torch.from_numpy(x)[None], 2, ceil_mode=True).shape[2:] == (1, 1)
    assert ops.conv_output_size(1, 2, 2, ceil_mode=True) == 1
    np.testing.assert_array_equal(ops.max_pool2d(x, 2, ceil_mode=True), [[[7.0]]])
    np.testing.assert_array_equal(ops.avg_pool2d(x, 2, ceil_mode=True), [[[7.0]]])
    assert ops.conv_output_size(3, 5, 3, 1, ceil_mode=True) == 1
    y = _rng(9).uniform(-1, 1, (1, 3, 3))
    np.testing.assert_allclose(
        ops.avg_pool2d(y, 5, 3, 1, ceil_mode=True),
        _torch_avg_pool(y, 5, 3, 1, True, True),
        atol=F64_ATOL,
    )
    with pytest.raises(ValueError, match="empty"):
        ops.conv_output_size(1, 2, 2, ceil_mode=False)  # floor: (1 - 2) // 2 + 1 = 0


def test_conv_output_size_by_hand():
    """floor((28 + 2 - 3) / 1) + 1 = 28; floor((28 - 2) / 2) + 1 = 14; ceil((7 - 2) / 2) + 1 = 4."""
    assert ops.conv_output_size(28, 3, 1, 1) == 28
    assert ops.conv_output_size(28, 2, 2) == 14
    assert ops.conv_output_size(7, 2, 2) == 3
    assert ops.conv_output_size(7, 2, 2, ceil_mode=True) == 4
    assert ops.conv_output_size(9, 3, 1, 0, dilation=2) == 5


# ----------------------------------------------------------------------------------------------
# Property tests on random shapes


@st.composite
def _conv_case(draw):
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    size = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    return c_in, c_out, size, kernel, stride, padding, dilation, seed


@HYPOTHESIS
@given(_conv_case())
def test_conv2d_property_matches_torch(case):
    """For random shapes, conv2d equals F.conv2d whenever conv_output_size accepts both axes;
    when it raises, conv2d raises ValueError and torch refuses too."""
    c_in, c_out, size, kernel, stride, padding, dilation, seed = case
    rng = _rng(seed)
    x = rng.uniform(-1, 1, (c_in, *size))
    w, b = rng.uniform(-1, 1, (c_out, c_in, *kernel)), rng.uniform(-1, 1, c_out)
    try:
        shape = tuple(
            ops.conv_output_size(n, k, s, p, dilation)
            for n, k, s, p in zip(size, kernel, stride, padding, strict=True)
        )
    except ValueError:
        with pytest.raises(ValueError, match="larger than the padded input"):
            ops.conv2d(x, w, b, stride, padding, dilation)
        with pytest.raises(RuntimeError):
            _torch_conv(x, w, b, stride, padding, dilation)
        return
    got = ops.conv2d(x, w, b, stride, padding, dilation)
    assert got.shape == (c_out, *shape)
    np.testing.assert_allclose(
        got, _torch_conv(x, w, b, stride, padding, dilation), rtol=0, atol=F64_ATOL
    )


@st.composite
def _pool_case(draw):
    channels = draw(st.integers(1, 3))
    size = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    kernel = draw(st.integers(1, 5))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    padding = draw(st.integers(0, min(2, kernel // 2)))
    ceil_mode = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return channels, size, kernel, stride, padding, ceil_mode, seed


@HYPOTHESIS
@given(_pool_case())
def test_pooling_property_matches_torch(case):
    """For random shapes, max_pool2d (values and tie-breaking indices) and avg_pool2d (both
    divisors) equal torch whenever conv_output_size accepts the shape; otherwise both refuse."""
    channels, size, k, s, p, ceil_mode, seed = case
    x = _rng(seed).integers(0, 3, (channels, *size)).astype(np.float64)  # many ties
    try:
        shape = tuple(ops.conv_output_size(n, k, s or k, p, 1, ceil_mode) for n in size)
    except ValueError:
        with pytest.raises(ValueError, match="larger than the padded input"):
            ops.max_pool2d(x, k, s, p, ceil_mode)
        with pytest.raises(ValueError, match="larger than the padded input"):
            ops.avg_pool2d(x, k, s, p, ceil_mode)
        with pytest.raises(RuntimeError):
            _torch_max_pool(x, k, s, p, ceil_mode)
        return
    out, idx = ops.max_pool2d(x, k, s, p, ceil_mode, return_indices=True)
    t_out, t_idx = _torch_max_pool(x, k, s, p, ceil_mode)
    assert out.shape == (channels, *shape)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(idx, t_idx)
    for include in (True, False):
        np.testing.assert_allclose(
            ops.avg_pool2d(x, k, s, p, ceil_mode, include),
            _torch_avg_pool(x, k, s, p, ceil_mode, include),
            rtol=0,
            atol=F64_ATOL,
        )


# ----------------------------------------------------------------------------------------------
# Invalid arguments: always ValueError, with a sentence that says what is wrong

X1 = np.zeros((1, 5, 5))
W1 = np.zeros((2, 1, 3, 3))
NAN_W = np.where(np.eye(3, dtype=bool), np.nan, 0.0)[None, None]

INVALID = {
    # stride: positive whole numbers only
    "conv stride 0": (lambda: ops.conv2d(X1, W1, stride=0), "stride must be a positive integer"),
    "conv stride -1": (
        lambda: ops.conv2d(X1, W1, stride=-1),
        r"stride must be a positive integer, got -1",
    ),
    "pool stride 0": (lambda: ops.max_pool2d(X1, 2, 0), "stride must be a positive integer"),
    "conv stride 1.5": (lambda: ops.conv2d(X1, W1, stride=1.5), "stride must be a whole number"),
    "conv stride 1.0": (lambda: ops.conv2d(X1, W1, stride=1.0), "stride must be a whole number"),
    "conv stride True": (
        lambda: ops.conv2d(X1, W1, stride=True),
        "stride must be a whole number, got True",
    ),
    "conv stride string": (lambda: ops.conv2d(X1, W1, stride="2"), "stride must be a whole"),
    "conv stride triple": (
        lambda: ops.conv2d(X1, W1, stride=(1, 1, 1)),
        "stride must be one integer or a pair",
    ),
    "pool stride 2.5": (lambda: ops.avg_pool2d(X1, 2, 2.5), "stride must be a whole number"),
    "size stride 0": (lambda: ops.conv_output_size(5, 3, 0), "stride must be a positive"),
    "size stride True": (lambda: ops.conv_output_size(5, 3, True), "stride must be a whole"),
    # padding: non-negative
    "conv padding -1": (
        lambda: ops.conv2d(X1, W1, padding=-1),
        "padding must be a non-negative integer, got -1",
    ),
    "pool padding -1": (lambda: ops.max_pool2d(X1, 2, padding=-1), "padding must be a non-neg"),
    "size padding -1": (lambda: ops.conv_output_size(5, 3, 1, -1), "padding must be a non-neg"),
    "pool padding > k//2": (
        lambda: ops.max_pool2d(X1, 3, padding=2),
        r"padding 2 is more than half the pooling window 3.*kernel_size // 2",
    ),
    "avg padding > k//2": (
        lambda: ops.avg_pool2d(X1, 2, padding=(0, 2)),
        "padding 2 is more than half the pooling window 2",
    ),
    # kernel larger than the padded input: the message names both sizes
    "conv kernel too big": (
        lambda: ops.conv2d(np.zeros((1, 3, 4)), np.zeros((1, 1, 5, 5))),
        r"kernel 5x5 is larger than the padded input 3x4",
    ),
    "conv dilated kernel too big": (
        lambda: ops.conv2d(np.zeros((1, 4, 4)), np.zeros((1, 1, 3, 3)), dilation=2),
        r"dilated kernel spans 5x5 is larger than the padded input 4x4",
    ),
    "pool kernel too big": (
        lambda: ops.max_pool2d(np.zeros((1, 2, 2)), 3),
        r"kernel 3x3 is larger than the padded input 2x2",
    ),
    "size kernel too big": (
        lambda: ops.conv_output_size(3, 5),
        r"kernel 5 .*larger than the padded input 3 .*empty",
    ),
    "conv kernel size 0 / empty weight": (
        lambda: ops.conv2d(X1, np.zeros((2, 1, 0, 3))),
        "weight is empty",
    ),
    "pool kernel 0": (lambda: ops.max_pool2d(X1, 0), "kernel_size must be a positive integer"),
    "size 0": (lambda: ops.conv_output_size(0, 1), "size must be a positive integer"),
    "dilation 0": (lambda: ops.conv2d(X1, W1, dilation=0), "dilation must be a positive"),
    # channels and ranks
    "mismatched channels": (
        lambda: ops.conv2d(np.zeros((2, 5, 5)), np.zeros((4, 3, 3, 3))),
        r"input has 2 channel\(s\) but the kernel expects 3",
    ),
    "x rank 2": (lambda: ops.conv2d(np.zeros((5, 5)), W1), r"x must be a 3-D array .*\(5, 5\)"),
    "x rank 4": (lambda: ops.conv2d(np.zeros((1, 1, 5, 5)), W1), "x must be a 3-D array"),
    "pool x rank 2": (lambda: ops.max_pool2d(np.zeros((4, 4)), 2), "x must be a 3-D array"),
    "weight rank 3": (
        lambda: ops.conv2d(X1, np.zeros((1, 3, 3))),
        r"weight must be a 4-D array .*got shape \(1, 3, 3\)",
    ),
    "weight rank 5": (lambda: ops.conv2d(X1, np.zeros((1, 1, 1, 3, 3))), "weight must be a 4-D"),
    "empty x": (lambda: ops.conv2d(np.zeros((1, 0, 5)), W1), "x is empty"),
    "complex x": (lambda: ops.conv2d(X1.astype(complex), W1), "x must hold real numbers"),
    "bool x": (lambda: ops.max_pool2d(X1.astype(bool), 2), "x must hold real numbers"),
    # non-finite numbers
    "NaN kernel": (lambda: ops.conv2d(X1, NAN_W), "kernel contains NaN or infinite values"),
    "inf kernel": (
        lambda: ops.conv2d(X1, np.full((1, 1, 3, 3), np.inf)),
        "kernel contains NaN or infinite",
    ),
    "-inf kernel at": (
        lambda: ops.conv2d_at(X1, np.full((1, 1, 3, 3), -np.inf), None, 1, 0, 0, 0, 0),
        "kernel contains NaN or infinite",
    ),
    "NaN input": (
        lambda: ops.conv2d(np.where(np.eye(5), np.nan, 0)[None], W1),
        "input contains NaN or infinite values",
    ),
    "inf input": (lambda: ops.conv2d(np.full((1, 5, 5), np.inf), W1), "input contains NaN"),
    "NaN bias": (lambda: ops.conv2d(X1, W1, [0.0, np.nan]), "bias contains NaN"),
    "NaN logits": (lambda: ops.softmax([0.0, np.nan]), "logits contains NaN"),
    "NaN slope": (lambda: ops.leaky_relu(X1, float("nan")), "negative_slope must be a finite"),
    "string slope": (lambda: ops.leaky_relu(X1, "0.1"), "negative_slope must be a finite"),
    # bias shape
    "bias too short": (
        lambda: ops.conv2d(X1, W1, [0.0]),
        r"bias must have one value per output channel \(2\), got shape \(1,\)",
    ),
    "bias 2-D": (lambda: ops.conv2d(X1, W1, np.zeros((2, 1))), "bias must have one value per"),
    # temperature
    "temperature 0": (
        lambda: ops.softmax([1.0, 2.0], 0),
        "temperature must be a positive finite number, got 0",
    ),
    "temperature -1": (lambda: ops.softmax([1.0, 2.0], -1.0), "positive finite number, got -1"),
    "temperature NaN": (lambda: ops.softmax([1.0, 2.0], float("nan")), "positive finite number"),
    "temperature inf": (lambda: ops.softmax([1.0, 2.0], float("inf")), "positive finite number"),
    "temperature True": (lambda: ops.softmax([1.0, 2.0], True), "temperature must be a number"),
    "temperature string": (lambda: ops.softmax([1.0], "1"), "temperature must be a number"),
    "CE temperature 0": (lambda: ops.cross_entropy([1.0, 2.0], 0, 0.0), "temperature must be"),
    # logits and labels
    "logits 2-D": (lambda: ops.softmax(np.zeros((2, 3))), "logits must be a non-empty 1-D"),
    "logits empty": (lambda: ops.softmax([]), "logits must be a non-empty 1-D"),
    "label 10": (lambda: ops.cross_entropy(np.zeros(10), 10), "label must be between 0 and 9"),
    "label -1": (lambda: ops.cross_entropy(np.zeros(10), -1), "label must be between 0 and 9"),
    "label 1.0": (lambda: ops.cross_entropy(np.zeros(10), 1.0), "label must be a whole number"),
    # indices
    "conv2d_at out_channel": (
        lambda: ops.conv2d_at(X1, W1, None, 1, 0, 2, 0, 0),
        "out_channel must be between 0 and 1, got 2",
    ),
    "conv2d_at row": (
        lambda: ops.conv2d_at(X1, W1, None, 1, 0, 0, 3, 0),
        "row must be between 0 and 2, got 3",
    ),
    "conv2d_at col -1": (
        lambda: ops.conv2d_at(X1, W1, None, 1, 0, 0, 0, -1),
        "col must be between 0 and 2, got -1",
    ),
    "conv2d_at row float": (
        lambda: ops.conv2d_at(X1, W1, None, 1, 0, 0, 1.0, 0),
        "row must be a whole number",
    ),
    "flat_index channel": (
        lambda: ops.flat_index(3, 0, 0, (3, 4, 5)),
        "channel must be between 0 and 2, got 3",
    ),
    "flat_index column": (
        lambda: ops.flat_index(0, 0, 5, (3, 4, 5)),
        "column must be between 0 and 4",
    ),
    "flat_index row -1": (lambda: ops.flat_index(0, -1, 0, (3, 4, 5)), "row must be between"),
    "unflat_index 60": (
        lambda: ops.unflat_index(60, (3, 4, 5)),
        "index must be between 0 and 59, got 60",
    ),
    "unflat_index -1": (lambda: ops.unflat_index(-1, (3, 4, 5)), "index must be between 0"),
    # names
    "unknown activation": (
        lambda: ops.activation("gelu", X1),
        "unknown activation 'gelu'; choose one of relu, leaky_relu, sigmoid, tanh",
    ),
    # linear
    "linear x 2-D": (lambda: ops.linear(np.zeros((2, 3)), np.zeros((4, 3))), "x must be a 1-D"),
    "linear weight mismatch": (
        lambda: ops.linear(np.zeros(3), np.zeros((4, 5))),
        r"weight must have shape \(out_features, 3\)",
    ),
    "linear weight 1-D": (lambda: ops.linear(np.zeros(3), np.zeros(3)), "weight must have shape"),
    "linear bias shape": (
        lambda: ops.linear(np.zeros(3), np.zeros((4, 3)), np.zeros(3)),
        r"bias must have shape \(4,\), got \(3,\)",
    ),
    "linear NaN weight": (
        lambda: ops.linear(np.zeros(2), [[np.nan, 0.0]]),
        "weight contains NaN",
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_arguments_raise_value_error_with_a_helpful_message(name):
    """Each class of invalid argument raises ValueError whose message says what is wrong."""
    call, message = INVALID[name]
    with pytest.raises(ValueError, match=message):
        call()


def test_every_invalid_message_is_a_sentence_not_a_bare_repr():
    """Every error message above names the offending argument (no bare numpy/torch errors)."""
    for name, (call, _) in INVALID.items():
        try:
            call()
        except ValueError as err:
            assert len(str(err).split()) >= 4, (name, str(err))


# ----------------------------------------------------------------------------------------------
# Known gaps (failing until fixed in cnn_core/ops.py; see the report)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ops.conv_output_size((5, 9), 3),
        lambda: ops.conv_output_size(5, (3, 5)),
        lambda: ops.conv_output_size(5, 3, (1, 2)),
    ],
    ids=["size pair", "kernel pair", "stride pair"],
)
def test_conv_output_size_rejects_pairs_instead_of_ignoring_half(call):
    """conv_output_size is one axis: a pair must be refused, not have its second entry silently
    ignored (DESIGN §4: no argument is ever accepted and ignored)."""
    with pytest.raises(ValueError, match="must be a whole number|one integer"):
        call()


@pytest.mark.parametrize(
    "args",
    [
        ([np.nan, 1.0], [[1.0, 1.0]], None),
        ([np.inf, 1.0], [[1.0, 1.0]], None),
        ([1.0, 1.0], [[1.0, 1.0]], [np.nan]),
    ],
    ids=["NaN x", "inf x", "NaN bias"],
)
def test_linear_rejects_non_finite_input_and_bias(args):
    """linear refuses NaN/inf in x and bias as conv2d does (it checks only the weight today)."""
    with pytest.raises(ValueError, match="NaN or infinite"):
        ops.linear(*args)


def test_padding_that_would_explode_a_map_is_refused_before_allocating():
    """Padding or a ceil-mode pooling window that would make a map over 1024 cells a side is
    refused before any array is allocated."""
    x = np.zeros((1, 28, 28), np.float32)
    w = np.zeros((1, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match="at most 1024 cells a side"):
        ops.conv2d(x, w, np.zeros(1, np.float32), padding=10**6)
    with pytest.raises(ValueError, match="at most 1024 cells a side"):
        ops.conv2d_at(x, w, np.zeros(1, np.float32), 1, 10**6, 0, 0, 0)
    with pytest.raises(ValueError, match="at most 1024"):
        ops.max_pool2d(x, 10**9, ceil_mode=True)


# ----------------------------------------------------------------------------------------------
# Batch normalisation (inference)


def test_batch_norm_equals_torch_in_eval_mode():
    """ops.batch_norm equals F.batch_norm(training=False) with the same running statistics,
    scale and shift: float64 inputs within F64_ATOL, float32 within F32_ATOL (one subtraction,
    one multiplication and one addition per value, each rounded in float32 by PyTorch)."""
    rng = _rng(21)
    x = rng.normal(0, 3, (5, 6, 7))
    mean, var = rng.normal(0, 2, 5), rng.uniform(0.01, 9, 5)
    weight, bias = rng.normal(1, 0.5, 5), rng.normal(0, 1, 5)
    for dtype, atol in ((np.float64, F64_ATOL), (np.float32, F32_ATOL)):
        t = [torch.from_numpy(a.astype(dtype)) for a in (x, mean, var, weight, bias)]
        want = F.batch_norm(t[0][None], *t[1:3], t[3], t[4], training=False, eps=1e-3)[0]
        got = ops.batch_norm(*(a.astype(dtype) for a in (x, mean, var, weight, bias)), eps=1e-3)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=atol)


def test_batch_norm_hand_checked_and_defaults():
    """Channel 0: (x - 2) / sqrt(4 + 0) * 3 + 1 on x = 2, 4, 6 gives 1, 4, 7 (eps set to a tiny
    1e-12, whose effect is far below EXACT_ATOL); without weight and bias the scale is 1 and the
    shift 0, as in PyTorch."""
    x = np.array([[[2.0, 4.0, 6.0]], [[1.0, 1.0, 1.0]]])  # (2, 1, 3)
    got = ops.batch_norm(x, [2.0, 0.0], [4.0, 1.0], [3.0, 1.0], [1.0, 0.0], eps=1e-12)
    np.testing.assert_allclose(got[0, 0], [1.0, 4.0, 7.0], rtol=0, atol=EXACT_ATOL)
    np.testing.assert_allclose(got[1, 0], [1.0, 1.0, 1.0], rtol=0, atol=EXACT_ATOL)
    plain = ops.batch_norm(x, [2.0, 0.0], [4.0, 1.0], eps=1e-12)
    np.testing.assert_allclose(plain[0, 0], [0.0, 1.0, 2.0], rtol=0, atol=EXACT_ATOL)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"running_mean": [0.0]}, r"running_mean needs one value per channel, shape \(2,\)"),
        ({"running_var": [1.0, np.nan]}, "NaN or infinite"),
        ({"running_var": [1.0, -1.0]}, "running_var \\+ eps must be positive"),
        ({"eps": 0}, "eps must be a small positive number"),
        ({"weight": [[1.0, 1.0]]}, "weight needs one value per channel"),
    ],
    ids=["short mean", "NaN var", "negative var", "eps 0", "2-D weight"],
)
def test_batch_norm_rejects_bad_statistics(kwargs, message):
    """Statistics that do not give one finite value per channel, a variance that makes the
    square root undefined and a zero eps are refused with a sentence."""
    args = {"running_mean": [0.0, 0.0], "running_var": [1.0, 1.0], **kwargs}
    with pytest.raises(ValueError, match=message):
        ops.batch_norm(np.zeros((2, 3, 3)), **args)
