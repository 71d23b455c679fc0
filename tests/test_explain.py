"""cnn_core.explain, toy_steps and experiments: every explanation equals what the Trace
(PyTorch) recorded, or PyTorch run on the same numbers."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import CNN, ModelConfig, experiments, explain, ops, toy_steps

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
    """conv_step's NumPy value equals F.conv2d on the stage's input at every sampled cell."""
    for stage in trace.by_kind("conv"):
        c_out, h, w = stage.shape
        p = stage.params
        x = torch.from_numpy(trace.input_of(stage.name)).double()[None]
        weight, bias = torch.from_numpy(p["weight"]).double(), torch.from_numpy(p["bias"]).double()
        expected = F.conv2d(x, weight, bias, p["stride"], p["padding"], p["dilation"])[0].numpy()
        for c, i, j in [(0, 0, 0), (c_out - 1, h - 1, w - 1), (c_out // 2, h // 2, w // 3)]:
            e = explain.conv_step(trace, stage.name, c, i, j)
            assert e.step.value == pytest.approx(expected[c, i, j], abs=1e-9)
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


def test_pool_view_equals_trace_and_winners_hold_the_max():
    """Pooling recomputed per channel with the model's settings equals the trace; each max
    winner holds its window's max."""
    trace = CNN(seed=2).trace(_image(4))
    e = explain.pool_what_if(trace, "pool1", 5)
    assert e.torch_after is not None and e.difference <= ATOL
    for i in range(e.after.shape[0]):
        for j in range(e.after.shape[1]):
            top, left, bottom, right = e.window(i, j)
            r, c = e.winners[i, j]
            assert top <= r < bottom and left <= c < right
            assert e.before[r, c] == e.before[top:bottom, left:right].max() == e.after[i, j]


def test_pool_view_average_has_no_winners():
    """Average pooling explanations equal the trace and carry no winners."""
    trace = CNN(CONFIGS["deep"], seed=1).trace(_image(5))
    e = explain.pool_what_if(trace, "pool2", 2)
    assert e.mode == "avg" and e.winners is None and e.difference <= ATOL


def test_dense_step_sums_to_the_logit(trace):
    """For every class, contributions summed plus the bias equal the traced logit."""
    for k in range(10):
        e = explain.dense_step(trace, "dense", k)
        # the oracle is PyTorch's logit, not the explanation's own torch_value or value fields
        assert e.contributions.sum() + e.bias == pytest.approx(float(trace.logits[k]), abs=ATOL)
        assert e.difference <= ATOL


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
    flat = explain.pool_what_if(trace, "pool1", 0)
    assert np.ptp(flat.before) == 0 and flat.decisive_winners() == []
    tanh = CNN(ModelConfig(activation="tanh"), seed=2).trace(_image(7))
    e = explain.pool_what_if(tanh, "pool1", 0)  # tanh of a random input: no ties, no flat window
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


# ----------------------------------------------------------------------------------------------
# Toy examples, pooling "what if", shift experiment, toy dense layer


def test_toy_conv_map_equals_torch_and_hand_value():
    """The toy 7x7 image convolved with the toy X kernel equals F.conv2d; one cell by hand."""
    from cnn_core.toy import TOY_IMAGE, TOY_KERNEL

    out = toy_steps.toy_conv_map(TOY_IMAGE, TOY_KERNEL, bias=-2.0)
    expected = F.conv2d(
        torch.tensor(TOY_IMAGE)[None, None], torch.tensor(TOY_KERNEL)[None, None],
        torch.tensor([-2.0]),
    )[0, 0].numpy()  # fmt: skip
    assert out.shape == (5, 5)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # cell (0, 0): the X kernel over rows 0-2, cols 0-2 touches (0,0),(0,2),(1,1),(2,0),(2,2)
    assert out[0, 0] == TOY_IMAGE[0, 0] + TOY_IMAGE[0, 2] + TOY_IMAGE[1, 1] + TOY_IMAGE[2, 0] - 2
    maps = toy_steps.toy_feature_maps(TOY_IMAGE, [TOY_KERNEL, TOY_KERNEL.T * 2])
    assert maps.shape == (2, 5, 5) and np.allclose(maps[1], 2 * (out + 2))


def test_activation_map_on_the_toy_counts_zeroed_cells():
    """activation_map applies the function to any map and has no PyTorch value to compare."""
    before = np.array([[-1.0, 0.0, 2.0], [3.0, -0.5, 0.0]])
    e = toy_steps.activation_map(before, "relu")
    assert np.array_equal(e.after, np.maximum(before, 0)) and e.zeroed == 2
    assert not e.is_model_function and e.difference is None
    leaky = toy_steps.activation_map(before, "leaky_relu", 0.1)
    np.testing.assert_allclose(leaky.after, F.leaky_relu(torch.tensor(before), 0.1).numpy())


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize(
    ("k", "s", "ceil"), [(2, 2, False), (2, 2, True), (3, 2, True), (3, 1, False)]
)
def test_pool_map_matches_torch_with_ceil_mode(mode, k, s, ceil):
    """pool_map equals torch max/avg pooling (ceil mode too); partial windows are the ones
    ceil mode adds; every max winner holds its window's maximum."""
    x = np.random.default_rng(k * 10 + s).normal(size=(7, 7)).astype(np.float32)
    v = explain.pool_map(x, mode, k, s, ceil)
    t = torch.tensor(x)[None, None]
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    expected = pool(t, k, s, 0, ceil_mode=ceil)[0, 0].numpy()
    np.testing.assert_allclose(v.after, expected, atol=1e-6)
    floor_size = (7 - k) // s + 1
    assert bool(v.partial_cells) == (v.after.shape[0] > floor_size)
    if mode == "max":
        _, idx = F.max_pool2d(t, k, s, 0, ceil_mode=ceil, return_indices=True)
        np.testing.assert_array_equal(v.winners[..., 0] * 7 + v.winners[..., 1], idx[0, 0])
    else:
        assert v.winners is None and v.decisive_winners() == []


def test_pool_map_toy_by_hand():
    """2x2 max and average pooling of a 3x3 grid with ceil mode: the edge windows are partial
    and average divides by the cells inside the input only (PyTorch's rule without padding)."""
    x = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.float32)
    mx = explain.pool_map(x, "max", 2, 2, ceil_mode=True)
    assert mx.after.tolist() == [[5, 6], [8, 9]]
    assert mx.partial_cells == [(0, 1), (1, 0), (1, 1)] and not mx.is_partial(0, 0)
    avg = explain.pool_map(x, "avg", 2, 2, ceil_mode=True)
    assert avg.after.tolist() == [[3.0, 4.5], [7.5, 9.0]]
    assert explain.pool_map(x, "max", 2, 2).after.tolist() == [[5]]
    with pytest.raises(ValueError, match="mode"):
        explain.pool_map(x, "min", 2)


def test_pool_what_if_own_settings_equal_trace_others_have_no_torch_value():
    """With the model's own settings the view equals the trace; changed settings are a
    'what if' without a PyTorch value."""
    trace = CNN(seed=2).trace(_image(4))
    own = explain.pool_what_if(trace, "pool1", 3)
    assert own.torch_after is not None and own.difference <= ATOL
    expected = F.max_pool2d(torch.tensor(trace.input_of("pool1")[3])[None, None], 2)[0, 0]
    np.testing.assert_allclose(own.after, expected.numpy(), atol=1e-6)
    avg = explain.pool_what_if(trace, "pool1", 3, mode="avg")
    assert avg.torch_after is None and avg.difference is None
    expected = F.avg_pool2d(torch.tensor(trace.input_of("pool1")[3])[None, None], 2)[0, 0]
    np.testing.assert_allclose(avg.after, expected.numpy(), atol=1e-6)
    ceil = explain.pool_what_if(trace, "pool1", 3, kernel_size=3, stride=2, ceil_mode=True)
    assert ceil.after.shape == (14, 14) and ceil.partial_cells


def test_shift_image_moves_content_and_fills_with_zeros():
    """shift_image moves the picture one cell and brings in zeros from the edge."""
    a = np.arange(9, dtype=np.float32).reshape(3, 3) + 1
    assert experiments.shift_image(a, "right").tolist() == [[0, 1, 2], [0, 4, 5], [0, 7, 8]]
    assert experiments.shift_image(a, "up").tolist() == [[4, 5, 6], [7, 8, 9], [0, 0, 0]]
    assert experiments.shift_image(a, "down")[1:].tolist() == a[:-1].tolist()
    assert experiments.shift_image(a, "left")[:, :2].tolist() == a[:, 1:].tolist()
    with pytest.raises(ValueError, match="direction"):
        experiments.shift_image(a, "diagonal")


def test_map_change_definitions():
    """changed_fraction counts cells moved by more than tolerance * max|old|; relative_l1 is
    sum|new - old| / sum|old|."""
    old = np.array([[0.0, 1.0], [2.0, 4.0]])
    new = np.array([[0.1, 1.0], [2.0, 2.0]])
    c = experiments.map_change(old, new, tolerance=0.05)  # threshold 0.2: only the last cell
    assert c.changed_fraction == 0.25 and c.cells == 4
    assert c.relative_l1 == pytest.approx(2.1 / 7.0)
    assert experiments.map_change(old, old).relative_l1 == 0.0
    with pytest.raises(ValueError, match="same shape"):
        experiments.map_change(old, old[:1])


def test_shift_experiment_against_torch():
    """The shift experiment's maps equal a direct torch forward of the moved image; conv is
    equivariant (aligned change ~0 with padding and an empty border) and the pooled map changes
    less than the map it pools (relative L1) for a real digit."""
    from cnn_core import load_default_model
    from cnn_core.data import load_bundled

    model = load_default_model()
    image = load_bundled().test.images[7] / np.float32(255)
    e = experiments.shift_experiment(model, image, "pool1", "right")
    moved = torch.tensor(e.shifted_image)[None, None]
    with torch.no_grad():
        act = model.stages["act1"](model.stages["conv1"](moved))
        pooled = model.stages["pool1"](act)
    np.testing.assert_allclose(e.maps_after, act[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(e.pooled_after, pooled[0].numpy(), atol=1e-6)
    assert np.array_equal(e.shifted_image[:, 1:], image[:, :-1])
    assert e.maps_aligned.relative_l1 < 1e-5
    assert e.pooled_same_place.relative_l1 < e.maps_same_place.relative_l1
    assert e.maps_same_place == experiments.map_change(e.maps_before, e.maps_after)
    deeper = experiments.shift_experiment(model, image, "pool2", "up")
    assert deeper.maps_aligned is None  # a 14x14 map: one input pixel is half a cell


def test_toy_dense_step_sums_and_matches_torch():
    """A typed-in dense layer: contributions plus bias equal the logit and F.linear."""
    x, w, b = [2.0, 0.0, 1.0], [[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], [0.5, -1.0]
    e = toy_steps.toy_dense_step(x, w, b, 1)
    assert e.contributions.tolist() == [1.0, 0.0, 3.0]
    assert e.value == 3.0 == e.torch_value and e.difference == 0 and e.feature(0) is None
    with pytest.raises(ValueError, match="weight must have shape"):
        toy_steps.toy_dense_step([1.0, 2.0], w, b, 0)
