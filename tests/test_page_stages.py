"""AppTest for the activation, pooling, flatten and dense & softmax pages: the model's numbers
equal the Trace, the toy examples give the hand-checkable numbers, widgets change them, and
pre-set (share-link) values that do not fit are clamped instead of failing."""

import base64
import html as html_lib
import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnn_core import experiments, explain, load_default_model, ops, toy, toy_steps
from tests import html_grids
from tests.conftest import HELD_OUT_INDEX as INDEX
from tests.conftest import held_out_digit, open_page

ACT, POOL, FLAT, DENSE = (
    f"app_pages/page_{n}.py" for n in ("activation", "pooling", "flatten", "dense")
)


def _image():
    return held_out_digit(INDEX)


def _trace():
    return load_default_model().trace(_image())


def _open(page: str, with_input: bool = True, **preset) -> AppTest:
    """A session on ``page`` (with the held-out digit as input), widget keys pre-set."""
    return open_page(page, digit=INDEX if with_input else None, settings=preset)


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    extra = [x.value for x in at.latex] + [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(parts + extra)


# ----------------------------------------------------------------------------------------------
# Activation


def test_activation_model_cell_equals_trace():
    """The chosen cell's before/after values are the traced conv and activation outputs."""
    at = _open(ACT, act_row=10, act_col=12, act_channel=3)
    t = _trace()
    before, after = t.stage("conv1").output[3, 10, 12], t.stage("act1").output[3, 10, 12]
    text = _text(at)
    assert (
        f"before **{before:.5f}**, after **{after:.5f}**; PyTorch computed **{after:.5f}**" in text
    )
    changed = int(np.count_nonzero(t.stage("act1").output[3] != t.stage("conv1").output[3]))
    assert f"**{changed}** of 784 cells changed" in text


def test_activation_what_if_sigmoid_and_leaky_slope():
    """A 'what if' function is labelled so and its cell value is that function of the same
    pre-activation value; the leaky slope enters the cell formula."""
    at = _open(ACT, act_row=5, act_col=5)
    at.selectbox(key="act_function").set_value("sigmoid").run()
    x = float(_trace().stage("conv1").output[0, 5, 5])
    text = _text(at)
    assert "**What if**" in text and f"after **{1 / (1 + np.exp(-x)):.5f}**" in text
    at.selectbox(key="act_function").set_value("leaky_relu").run()
    at.slider(key="act_slope").set_value(0.2).run()
    assert f"after **{(x if x >= 0 else 0.2 * x):.5f}**" in _text(at)


def test_activation_toy_without_input_and_bias_changes_the_count():
    """With no input the toy is shown: 7x7 * 3x3 + bias -> 5x5; the zeroed count is the number of
    negative cells, and a different bias changes it."""
    at = _open(ACT, with_input=False)
    text = _text(at)
    assert "There is no input yet" in text and "conv map `5 x 5`" in text
    z = toy_steps.toy_conv_map(toy.TOY_IMAGE, toy.TOY_KERNEL, -2.0)
    assert f"**{int((z < 0).sum())}** were set to 0" in text
    at.number_input(key="act_toy_bias").set_value(-3.0).run()
    z = toy_steps.toy_conv_map(toy.TOY_IMAGE, toy.TOY_KERNEL, -3.0)
    assert f"**{int((z < 0).sum())}** were set to 0" in _text(at)
    at.slider(key="act_row").set_value(1).run()
    at.slider(key="act_col").set_value(3).run()
    assert rf"\max(0,\; {z[1, 3]:.4f}) = {max(z[1, 3], 0):.4f}" in _text(at)


def test_activation_clamps_preset_values():
    """Pre-set values that do not fit this model (channel 99, row 500, unknown layer) are
    clamped to valid ones instead of failing."""
    at = _open(ACT, act_channel=99, act_row=500, act_col=-4, act_layer="act9")
    assert at.session_state["act_channel"] == 7 and at.session_state["act_layer"] == "act1"
    assert at.session_state["act_row"] == 27 and at.session_state["act_col"] == 0


# ----------------------------------------------------------------------------------------------
# Pooling


@pytest.mark.parametrize(
    ("source", "k", "s", "ceil", "size"),
    [("conv", 2, 2, False, 2), ("conv", 2, 2, True, 3), ("conv", 3, 1, False, 3),
     ("image", 2, 2, False, 3), ("image", 2, 2, True, 4), ("image", 3, 3, True, 3)],
)  # fmt: skip
def test_pooling_toy_output_size(source, k, s, ceil, size):
    """Window, stride and ceil mode on the toy give PyTorch's output size, shown in the text."""
    at = _open(POOL, with_input=False, pool_toy_input=source)
    at.number_input(key="pool_size").set_value(k).run()
    at.number_input(key="pool_stride").set_value(s).run()
    at.toggle(key="pool_ceil").set_value(ceil).run()
    n = 5 if source == "conv" else 7
    assert f"Input map **{n} x {n}** → output **{size} x {size}**" in _text(at)


def test_pooling_toy_max_versus_average():
    """Switching max to average changes the value of the chosen cell to its window's mean."""
    at = _open(POOL, with_input=False, pool_row=0, pool_col=1)
    grid = toy_steps.toy_conv_map(toy.TOY_IMAGE, toy.TOY_KERNEL)
    window = grid[0:2, 2:4]
    assert f"largest value of its window is **{window.max():.5f}**" in _text(at)
    at.radio(key="pool_mode").set_value("avg").run()
    assert f"the mean of its window is **{window.mean():.5f}**" in _text(at)


def test_pooling_model_values_equal_trace_and_what_if_has_no_torch_value():
    """The model's own pooling shows the traced value; a changed window is a 'what if'."""
    at = _open(POOL, pool_channel=2, pool_row=6, pool_col=8)
    value = _trace().stage("pool1").output[2, 6, 8]
    assert f"is **{value:.5f}**; PyTorch computed **{value:.5f}**" in _text(at)
    winner = explain.pool_what_if(_trace(), "pool1", 2).winners[6, 8]
    assert f"input cell **({winner[0]}, {winner[1]})**" in _text(at)
    at.number_input(key="pool_size").set_value(3).run()
    text = _text(at)
    assert "**What if**" in text and "PyTorch computed" not in text
    assert "output **13 x 13**" in text  # floor((28 - 3) / 2) + 1


def test_pooling_clamps_row_when_the_window_grows():
    """A row that fitted 14 rows is clamped when a bigger stride leaves fewer rows."""
    at = _open(POOL, pool_row=13, pool_col=13)
    at.number_input(key="pool_stride").set_value(4).run()
    assert not at.exception
    assert at.session_state["pool_row"] == 6 and at.session_state["pool_col"] == 6


def test_pooling_window_grid_holds_the_windows_numbers():
    """The chosen window's grid (HTML) holds the map's numbers under the window of cell (6, 8)."""
    at = _open(POOL, pool_row=6, pool_col=8)
    window = _trace().input_of("pool1")[0, 12:14, 16:18]
    np.testing.assert_allclose(html_grids.grid(at, "the window"), window, atol=1e-6)


def test_pooling_shift_maps_are_drawn_once_their_expander_is_opened():
    """The shift experiment's maps (original and moved) are drawn only when asked for, then hold
    the experiment's numbers."""
    at = _open(POOL)

    def charts():
        return {c.proto.id.rsplit("-", 1)[-1]: c for c in at.get("plotly_chart")}

    assert "pool_shift_maps" not in charts()
    at.session_state["pool_shift_maps_open"] = True
    at.run()
    assert not at.exception, at.exception
    x = experiments.shift_experiment(load_default_model(), _image(), "pool1", "right")
    moved = json.loads(charts()["pool_shift_maps"].proto.spec)["data"][1]["z"]  # the 2nd map
    if isinstance(moved, dict):  # a typed array: base64 "bdata" with its dtype and shape
        flat = np.frombuffer(base64.b64decode(moved["bdata"]), dtype=moved["dtype"])
        moved = flat.reshape([int(n) for n in str(moved["shape"]).split(",")])
    np.testing.assert_allclose(np.asarray(moved, dtype=float), x.maps_after[0], atol=1e-6)
    assert "pool_shift_pooled" in charts()


def test_pooling_shift_experiment_numbers_equal_cnn_core():
    """The shift experiment's measured changes are cnn_core.experiments.shift_experiment's."""
    at = _open(POOL)
    at.radio(key="pool_shift").set_value("up").run()
    x = experiments.shift_experiment(load_default_model(), _image(), "pool1", "up")
    text = _text(at)
    assert f"changed by **{x.maps_same_place.relative_l1:.1%}**" in text
    assert f"pooled map by **{x.pooled_same_place.relative_l1:.1%}**" in text


# ----------------------------------------------------------------------------------------------
# Flatten


def test_flatten_index_and_cell_stay_in_sync():
    """Setting i moves (c, h, w) to the cell it came from, and setting c/h/w moves i; the value
    shown is the traced flatten output."""
    at = _open(FLAT)
    flat = _trace().stage("flatten").output
    at.number_input(key="flat_index").set_value(100).run()
    c, h, w = ops.unflat_index(100, (16, 7, 7))
    assert (at.session_state["flat_c"], at.session_state["flat_h"], at.session_state["flat_w"]) == (
        c, h, w,
    )  # fmt: skip
    assert f"x[100] = maps[{c}, {h}, {w}] = **{flat[100]:.5f}**" in _text(at)
    at.number_input(key="flat_c").set_value(5).run()
    at.number_input(key="flat_w").set_value(6).run()
    i = 5 * 49 + h * 7 + 6
    assert at.session_state["flat_index"] == i
    assert f"= {i}" in _text(at) and f"**{flat[i]:.5f}**" in _text(at)


def test_flatten_every_channel_is_an_image_with_its_range_in_words_the_chosen_one_framed():
    """Without the clickable chart, every channel is a small image (one pixel per value) whose
    alt text names the channel and its values' range; the chosen channel is framed and said."""
    at = _open(FLAT)
    at.number_input(key="flat_c").set_value(5).run()
    assert at.session_state["flat_c"] == 5
    maps = _trace().input_of("flatten")
    page = "".join(m.value for m in at.markdown)
    shown = re.search(r"<div class='cs-maps'.*?</div>", page).group(0)
    images = re.findall(r"<img src='data:image/png;base64,([^']+)' alt='([^']+)' style='([^']*)'",
                        shown)  # fmt: skip
    assert len(images) == len(maps) == 16
    for k, (png, alt, style) in enumerate(images):
        alt = html_lib.unescape(alt)
        chosen = " (chosen)" if k == 5 else ""
        assert (
            f": ch {k}{chosen}, 7x7 values from {maps[k].min():.3g} to {maps[k].max():.3g}" in alt
        )
        assert ("outline" in style) == (k == 5)
        assert Image.open(io.BytesIO(base64.b64decode(png))).size == (7, 7)


def test_flatten_toy_without_input():
    """The toy's two 5x5 maps flatten to 50 values; the default index is cell (1, 1, 1)."""
    at = _open(FLAT, with_input=False)
    text = _text(at)
    assert "`2 x 5 x 5` → `50`" in text
    assert r"1 \cdot 25 + 1 \cdot 5 + 1 = 31" in text
    maps = toy_steps.toy_feature_maps(
        toy.TOY_IMAGE, [toy.TOY_KERNEL, toy.KERNEL_PRESETS["vertical edge"]]
    )
    assert f"**{maps[1, 1, 1]:.5f}**" in text


def test_flatten_clamps_a_preset_index():
    """An index beyond the vector is clamped to its last position, and the cell follows."""
    at = _open(FLAT, flat_index=10**6)
    assert at.session_state["flat_index"] == 783
    assert (at.session_state["flat_c"], at.session_state["flat_h"], at.session_state["flat_w"]) == (
        15, 6, 6,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Dense & softmax


def test_dense_weight_matrix_is_drawn_once_opened_and_is_the_layers():
    """The weight matrix is drawn only when its expander is opened; then it is the layer's W."""
    at = _open(DENSE)

    def weights():
        return [c for c in at.get("plotly_chart") if c.proto.id.endswith("-dense_weights_dense")]

    assert not weights()
    at.session_state["dense_weights_dense_open"] = True
    at.run()
    assert not at.exception, at.exception
    z = json.loads(weights()[0].proto.spec)["data"][0]["z"]
    if isinstance(z, dict):  # a typed array: base64 "bdata" with its dtype and shape
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        z = flat.reshape([int(n) for n in str(z["shape"]).split(",")])
    w = _trace().stage("dense").params["weight"]
    np.testing.assert_allclose(np.asarray(z, dtype=float), w, atol=1e-6)


def test_dense_temperature_changes_probabilities_entropy_and_loss():
    """Entropy and cross-entropy shown equal cnn_core's, and a temperature changes them."""
    at = _open(DENSE, softmax_label=3)
    logits = _trace().logits
    for t in (1.0, 4.0):
        at.slider(key="softmax_temperature").set_value(t).run()
        s = explain.softmax_step(logits, t, 3)
        text = _text(at)
        assert f"entropy **{s.entropy:.3f}** nats" in text
        assert f"cross-entropy for label 3: **{s.cross_entropy:.4g}**" in text
        rows = at.dataframe[-1].value
        assert list(rows["p"]) == [f"{p:.4%}" for p in s.probabilities]


def test_dense_contributions_sum_to_the_traced_logit():
    """For a chosen class the sum of contributions plus the bias is the traced logit."""
    at = _open(DENSE, dense_class=4)
    e = explain.dense_step(_trace(), "dense", 4)
    assert f"= {e.value:.5f}" in _text(at)
    assert f"PyTorch's logit: **{_trace().logits[4]:.5f}**" in _text(at)
    top = e.top(8, 1)[0]
    assert str(top[0]) in {str(v) for v in at.dataframe[0].value["i"]}


def test_dense_toy_logits_and_class_switch():
    """The toy dense layer: z = W x + b = (3, 1, 2); every product is written out."""
    at = _open(DENSE, with_input=False)
    text = _text(at)
    assert "F.linear gives: **3.00000**" in text
    assert "z_{0} = (1)(3) + (0)(4) + (-1)(2) + (0.5)(4) + (0) = 3" in text
    at.selectbox(key="dense_class").set_value(2).run()
    assert "F.linear gives: **2.00000**" in _text(at)
    s = explain.softmax_step([3.0, 1.0, 2.0], 1.0, 0)
    assert f"entropy **{s.entropy:.3f}** nats" in _text(at)


def test_dense_clamps_a_label_beyond_the_toy_classes():
    """A label preset for 10 classes is clamped to the toy's 3 classes."""
    at = _open(DENSE, with_input=False, softmax_label=9, dense_class=9)
    assert at.session_state["softmax_label"] == 2 and at.session_state["dense_class"] == 2


def test_activation_function_labels_are_the_same_in_model_and_toy_mode():
    """The select box's labels never change with the mode (a browser kept showing "Sigmoid (what
    if)" in toy mode when they did); in model mode a caption says whose function it is."""
    labels = ["ReLU", "Leaky ReLU", "Sigmoid", "Tanh"]
    at = _open(ACT)
    assert list(at.selectbox(key="act_function").options) == labels
    assert "ReLU: the model's own." in [c.value for c in at.caption]
    at.selectbox(key="act_function").set_value("sigmoid").run()
    assert "Sigmoid: what if (the model uses ReLU)." in [c.value for c in at.caption]
    at.radio(key="act_source").set_value("toy").run()
    assert list(at.selectbox(key="act_function").options) == labels
    assert not [c for c in at.caption if "the model uses" in c.value]
