"""cnn_core.explain: every explanation equals what the Trace (PyTorch) recorded."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import CNN, ModelConfig, explain, ops

# The ops compute in float64 from the float32 values PyTorch used; what remains is float32
# rounding of sums of at most ~150 products of magnitude < 10.
ATOL = 1e-5

CONFIGS = {
    "default": ModelConfig(),
    "deep": ModelConfig(filters=(4, 6, 8), activation="leaky_relu", pooling="avg", hidden_units=12),
    "strided": ModelConfig(
        filters=(3,), kernel_size=5, stride=2, padding=2, pooling="none", activation="tanh"
    ),
}


def _image(seed=0):
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


@pytest.fixture(params=sorted(CONFIGS))
def trace(request):
    return CNN(CONFIGS[request.param], seed=1).trace(_image())


def test_conv_step_equals_trace_everywhere(trace):
    """conv_step's NumPy value equals the traced conv output at every sampled cell."""
    for stage in trace.by_kind("conv"):
        c_out, h, w = stage.shape
        for c, i, j in [(0, 0, 0), (c_out - 1, h - 1, w - 1), (c_out // 2, h // 2, w // 3)]:
            e = explain.conv_step(trace, stage.name, c, i, j)
            assert e.torch_value == stage.output[c, i, j]
            assert e.difference <= ATOL
            assert e.step.channel_sums.shape == (stage.params["in_channels"],)


def test_conv_step_patch_is_the_receptive_field():
    """The patch of a corner cell with padding 1 has a zero border row/column (the padding)."""
    trace = CNN(seed=0).trace(np.ones((28, 28), dtype=np.float32))
    step = explain.conv_step(trace, "conv1", 0, 0, 0).step
    assert list(step.rows) == [-1, 0, 1] and list(step.cols) == [-1, 0, 1]
    assert np.all(step.patch[0, 0, :] == 0) and np.all(step.patch[0, :, 0] == 0)
    assert np.all(step.patch[0, 1:, 1:] == 1)


def test_conv_step_rejects_wrong_stage_and_positions(trace):
    """Asking a non-conv stage or an out-of-range cell gives a helpful ValueError."""
    with pytest.raises(ValueError, match="not a conv stage"):
        explain.conv_step(trace, "flatten", 0, 0, 0)
    with pytest.raises(ValueError, match="row must be between"):
        explain.conv_step(trace, "conv1", 0, 999, 0)
    with pytest.raises(ValueError, match="no stage called"):
        explain.conv_step(trace, "conv9", 0, 0, 0)


def test_activation_own_function_equals_trace(trace):
    """The model's own activation recomputed by ops equals every traced activation stage."""
    for stage in trace.by_kind("activation"):
        e = explain.activation_step(trace, stage.name)
        assert e.is_model_function and e.difference <= ATOL
        assert e.after.shape == stage.shape


def test_activation_what_if_relu_counts_zeroed_cells():
    """A 'what if' ReLU on a tanh model counts exactly the negative cells as zeroed."""
    trace = CNN(CONFIGS["strided"], seed=1).trace(_image(3))
    e = explain.activation_step(trace, "act1", channel=0, function="relu")
    assert not e.is_model_function and e.torch_after is None and e.difference is None
    assert e.zeroed == int(np.count_nonzero(e.before < 0))
    assert np.array_equal(e.changed, e.before < 0)


def test_pool_step_equals_trace_and_winners_hold_the_max():
    """Pooling recomputed per channel equals the trace; each max winner holds its window's max."""
    trace = CNN(seed=2).trace(_image(4))
    e = explain.pool_step(trace, "pool1", 5)
    assert e.difference <= ATOL
    for i in range(e.after.shape[0]):
        for j in range(e.after.shape[1]):
            top, left, bottom, right = e.window(i, j)
            r, c = e.winners[i, j]
            assert top <= r < bottom and left <= c < right
            assert e.before[r, c] == e.before[top:bottom, left:right].max() == e.after[i, j]


def test_pool_step_average_has_no_winners():
    """Average pooling explanations equal the trace and carry no winners."""
    trace = CNN(CONFIGS["deep"], seed=1).trace(_image(5))
    e = explain.pool_step(trace, "pool2", 2)
    assert e.mode == "avg" and e.winners is None and e.difference <= ATOL


def test_flatten_index_map_both_ways(trace):
    """flatten_index and flatten_position are inverse and follow i = c*H*W + h*W + w."""
    c_, h_, w_ = explain.flatten_shape(trace)
    flat = trace.stage("flatten").output
    maps = trace.input_of("flatten")
    for i in [0, 1, h_ * w_ - 1, h_ * w_, flat.size - 1]:
        c, h, w = explain.flatten_index(trace, i)
        assert i == c * h_ * w_ + h * w_ + w
        assert explain.flatten_position(trace, c, h, w) == i
        assert flat[i] == maps[c, h, w]


def test_dense_step_sums_to_the_logit(trace):
    """For every class, contributions summed plus the bias equal the traced logit."""
    for k in range(10):
        e = explain.dense_step(trace, "dense", k)
        assert e.torch_value == trace.logits[k]
        assert e.difference <= ATOL
        np.testing.assert_allclose(e.contributions.sum() + e.bias, e.value)


def test_dense_top_contributions_are_sorted_and_signed():
    """top() lists the largest positive and the most negative contributions in order."""
    e = explain.dense_step(CNN(seed=0).trace(_image(6)), "dense", 7)
    pos, neg = e.top(5, 1), e.top(5, -1)
    assert [v for _, v in pos] == sorted((v for _, v in pos), reverse=True)
    assert all(v > 0 for _, v in pos) and all(v < 0 for _, v in neg)
    assert pos[0][1] == e.contributions.max() and neg[0][1] == e.contributions.min()
    assert e.feature(pos[0][0]) == ops.unflat_index(pos[0][0], (16, 7, 7))


def test_softmax_step_matches_torch_with_temperature_and_label():
    """Softmax parts equal torch.softmax(logits / T) and F.cross_entropy for the label."""
    logits = np.array([2.0, -1.0, 0.5, 1000.0, -1000.0])
    for temperature in (0.5, 1.0, 3.0):
        e = explain.softmax_step(logits, temperature, label=2)
        expected = torch.softmax(torch.tensor(logits) / temperature, 0).numpy()
        np.testing.assert_allclose(e.probabilities, expected, atol=1e-12)
        np.testing.assert_allclose(e.exps / e.total, e.probabilities, atol=1e-15)
        loss = F.cross_entropy(torch.tensor(logits / temperature)[None], torch.tensor([2]))
        assert e.cross_entropy == pytest.approx(float(loss), rel=1e-9)
        assert np.all(np.isfinite(e.exps)) and e.exps.max() == 1.0


def test_softmax_step_entropy_and_bad_temperature():
    """Uniform logits give entropy log(K); a zero temperature is refused with a message."""
    e = explain.softmax_step(np.zeros(10))
    assert e.entropy == pytest.approx(np.log(10)) and e.cross_entropy is None
    with pytest.raises(ValueError, match="temperature must be a positive"):
        explain.softmax_step(np.zeros(10), 0.0)


def test_pool_decisive_winners_skip_flat_windows():
    """decisive_winners lists a winner for every window with unequal values and none for flat
    ones (an all-zero background window has no real maximum)."""
    trace = CNN(seed=2).trace(np.zeros((28, 28), dtype=np.float32))
    flat = explain.pool_step(trace, "pool1", 0)
    assert np.ptp(flat.before) == 0 and flat.decisive_winners() == []
    tanh = CNN(ModelConfig(activation="tanh"), seed=2).trace(_image(7))
    e = explain.pool_step(tanh, "pool1", 0)  # tanh of a random input: no ties, no flat window
    winners = e.decisive_winners()
    assert len(winners) == e.after.size
    for (r, c), value in zip(winners, e.after.ravel(), strict=True):
        assert e.before[r, c] == value


def test_activation_curve_covers_the_map_and_is_the_function():
    """The plotted curve spans at least [-3, 3] and the map's range, and is the function."""
    trace = CNN(CONFIGS["deep"], seed=1).trace(_image(8))
    e = explain.activation_step(trace, "act1", channel=0, function="leaky_relu", negative_slope=0.2)
    xs, ys = e.curve()
    assert xs[0] <= min(-3.0, e.before.min()) and xs[-1] >= max(3.0, e.before.max())
    np.testing.assert_allclose(ys, np.where(xs >= 0, xs, 0.2 * xs))
