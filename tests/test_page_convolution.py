"""AppTest: the Convolution page on the default model, an empty input and a held-out digit; the
toy playground; the kernel editor; a filter put into the model and restored."""

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import load_default_model, ops, toy
from tests import html_grids
from tests.conftest import held_out_digit, open_page
from ui import links, state

PAGE = "app_pages/page_convolution.py"
INDEX = 7  # a held-out digit used as the current input
MODEL_TAB, EDITOR_TAB, TOY_TAB = links.CONV_TABS.values()  # only the open tab is drawn


def _image(index: int = INDEX) -> np.ndarray:
    return held_out_digit(index)


def _page(with_input: bool = True, **preset) -> AppTest:
    """The conv page in a fresh session; preset widget values are set before the first run."""
    return open_page(PAGE, digit=INDEX if with_input else None, settings=preset)


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    return "\n".join(parts + [i.value for i in at.info] + [s.value for s in at.success])


def _z(trace: dict) -> np.ndarray:
    """A heatmap's z from Plotly JSON (arrays travel as base64 'bdata' with a dtype)."""
    z = trace["z"]
    if isinstance(z, dict):
        raw = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        shape = [int(n) for n in str(z.get("shape", raw.size)).split(",")]
        return raw.reshape(shape)
    return np.asarray(z, dtype=np.float64)


def _chart(at: AppTest, title: str) -> dict:
    """The Plotly figure (as JSON) whose title is ``title``."""
    for element in at.get("plotly_chart"):
        fig = json.loads(element.proto.spec)
        if fig.get("layout", {}).get("title", {}).get("text") == title:
            return fig
    raise AssertionError(f"no chart titled {title!r}")


@pytest.fixture(scope="module")
def expected():
    return load_default_model().trace(_image())


def test_renders_without_input_and_the_toy_still_works():
    """No input: the model part prompts, the toy playground still computes its 5x5 output."""
    at = _page(with_input=False)
    assert "There is no input yet" in _text(at)
    at.session_state["conv_tab"] = TOY_TAB  # as a click on the tab
    at.run()
    assert "The output is **5x5**" in _text(at)


def test_renders_with_a_digit_and_shows_the_traced_values(expected):
    """A held-out digit: shapes, PyTorch line, parameter count; the cell equals the trace."""
    at = _page()
    text = _text(at)
    assert f"prediction **{expected.prediction}**" in text
    assert "**80 parameters**" in text and "`1 x 28 x 28` → output `8 x 28 x 28`" in text
    assert any("nn.Conv2d(1, 8, kernel_size=3, stride=1, padding=1)" in c.value for c in at.code)
    value = expected.stage("conv1").output[0, 14, 14]
    assert f"PyTorch computed **{value:.6f}**" in text


def test_second_layer_and_its_eight_input_channels(expected):
    """conv2 (8 input channels): the chosen cell's value, weights per channel, the bias."""
    at = _page(conv_layer="conv2", conv_channel=5, conv_row=3, conv_col=9)
    stage = expected.stage("conv2")
    text = _text(at)
    assert f"PyTorch computed **{stage.output[5, 3, 9]:.6f}**" in text
    assert f"bias **{stage.params['bias'][5]:.4f}**" in text
    weights = html_grids.grid(at, "in ch 7")  # the last of the 8 input channels' weights
    np.testing.assert_allclose(weights, stage.params["weight"][5, 7], atol=1e-6)
    for c in range(8):  # conv2 has 8 input channels, each channel's grid printed in full
        np.testing.assert_allclose(
            html_grids.grid(at, f"in ch {c}"), stage.params["weight"][5, c], atol=1e-6
        )


def test_preset_values_that_no_longer_fit_are_clamped(expected):
    """A share link's channel 12 and row 99 on conv1 (8 channels, 28 rows) are clamped."""
    at = _page(conv_layer="conv9", conv_channel=12, conv_row=99, conv_col=-4)
    assert at.session_state["conv_layer"] == "conv1"
    assert at.session_state["conv_channel"] == 7
    assert (at.session_state["conv_row"], at.session_state["conv_col"]) == (27, 0)
    value = expected.stage("conv1").output[7, 27, 0]
    assert f"PyTorch computed **{value:.6f}**" in _text(at)
    at.selectbox(key="conv_layer").set_value("conv2").run()  # 14x14: row 27 no longer fits
    assert at.session_state["conv_row"] == 13 and not at.exception


def test_play_advances_one_position_per_run_and_stops_at_the_end(expected):
    """With Play on each run moves one cell to the right (then to the next row); at the last
    cell Play switches itself off."""
    at = _page(conv_row=4, conv_col=27)
    at.toggle(key="conv_play").set_value(True).run()
    assert (at.session_state["conv_row"], at.session_state["conv_col"]) == (5, 0)
    at.run()
    assert (at.session_state["conv_row"], at.session_state["conv_col"]) == (5, 1)
    value = expected.stage("conv1").output[0, 5, 1]
    assert f"PyTorch computed **{value:.6f}**" in _text(at)
    at.session_state["conv_row"], at.session_state["conv_col"] = 27, 27
    at.run()
    assert at.session_state["conv_play"] is False and not at.exception


def test_toy_kernel_3_stride_2_padding_0_gives_3x3():
    """The 7x7 toy, kernel 3, stride 2, padding 0: the formula and the page say 3x3."""
    at = _page(with_input=False, conv_tab=TOY_TAB)
    at.number_input(key="conv_toy_stride").set_value(2).run()
    assert "The output is **3x3**" in _text(at)
    assert any(r"\left\lfloor \frac{4}{2}\right\rfloor + 1 = 3" in x.value for x in at.latex)


def test_toy_stride_that_does_not_fit_is_explained():
    """Stride 3 on 7 cells with kernel 3 leaves the last row and column unvisited: a warning."""
    at = _page(with_input=False, conv_tab=TOY_TAB, conv_toy_stride=3)
    warnings = [w.value for w in at.warning]
    assert any("Stride 3 does not fit evenly" in w and "last 1 row(s)" in w for w in warnings)
    assert "The output is **2x2**" in _text(at)


def test_toy_kernel_larger_than_the_padded_input_is_an_error_not_a_crash():
    """Kernel size 9 on the 7x7 toy: the ValueError's sentence is shown."""
    at = _page(with_input=False, conv_tab=TOY_TAB)
    at.number_input(key="conv_toy_k").set_value(9).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("is larger than the padded input 7" in e for e in errors), errors
    at.number_input(key="conv_toy_padding").set_value(1).run()  # 9x9 now fits exactly
    assert "The output is **1x1**" in _text(at)


def test_toy_padding_and_dilation_numbers_equal_ops():
    """Padding 1, dilation 2: the output grid shown equals ops.conv2d on the toy."""
    at = _page(with_input=False, conv_tab=TOY_TAB, conv_toy_padding=1, conv_toy_dilation=2)
    out = ops.conv2d(toy.TOY_IMAGE[None], toy.TOY_KERNEL[None, None], None, 1, 1, 2)[0]
    assert f"The output is **{out.shape[0]}x{out.shape[1]}**" in _text(at)
    np.testing.assert_allclose(_z(_chart(at, "output")["data"][0]), out)
    assert _z(_chart(at, "padded input")["data"][0]).shape == (9, 9)


@pytest.mark.parametrize("bad", ["1 0 1\n0 nan 0\n1 0 1", "1 0 1\n0 inf 0\n1 0 1", "1 0\n0 1 1"])
def test_kernel_editor_refuses_nan_inf_and_ragged_rows(bad):
    """NaN, infinity or rows of different lengths: a message, no preview, no crash."""
    at = _page(conv_tab=EDITOR_TAB)
    at.text_area(key="conv_kernel").input(bad).run()
    assert not at.exception and at.error
    with pytest.raises(AssertionError):
        _chart(at, "kernel on the current input")


def test_preset_fills_the_editor_and_its_map_equals_ops():
    """Picking 'Gaussian blur' fills the editor; the map shown is ops.conv2d with padding 1."""
    at = _page(conv_tab=EDITOR_TAB)
    at.selectbox(key="conv_preset").set_value("Gaussian blur").run()
    kernel = toy.KERNEL_PRESETS["Gaussian blur"]
    assert at.text_area(key="conv_kernel").value == toy.format_grid(kernel)
    shown = _z(_chart(at, "kernel on the current input")["data"][0])
    parsed = toy.parse_grid(toy.format_grid(kernel))
    expected = ops.conv2d(_image()[None], parsed[None, None], None, 1, 1)[0]
    np.testing.assert_allclose(shown, expected, atol=1e-6)


def test_use_in_the_model_then_restore(expected):
    """Sobel x into conv1 filter 2: a new session model whose logits differ, conv1 channel 2
    equals ops with the new kernel; Restore gives back exactly the default's numbers; the
    shared default model is never changed."""
    default_before = state.default_model_info().model.fingerprint()
    at = _page(conv_tab=EDITOR_TAB, conv_preset="Sobel x")
    at.number_input(key="conv_target").set_value(2).run()
    at.button(key="conv_use").click().run()
    info = at.session_state[state.MODEL]
    assert info.version.startswith("edited:") and not info.is_default
    assert "conv1 filter 2 replaced" in info.trained_on
    kernel = toy.parse_grid(toy.format_grid(toy.KERNEL_PRESETS["Sobel x"]))
    np.testing.assert_array_equal(info.model.layer_weights("conv1")[2, 0], kernel)
    edited = info.model.trace(_image())
    assert not np.allclose(edited.logits, expected.logits)
    assert "with your kernel" in _text(at)
    bias = expected.stage("conv1").params["bias"][2:3]
    ours = ops.conv2d(_image()[None], kernel[None, None], bias, 1, 1)[0]
    np.testing.assert_allclose(edited.stage("conv1").output[2], ours, atol=1e-5)
    assert state.default_model_info().model.fingerprint() == default_before
    assert load_default_model().fingerprint() == state.default_model_info().model.fingerprint()

    at.button(key="conv_restore").click().run()
    assert at.session_state[state.MODEL] is None
    assert state.FILTER_EDIT not in at.session_state
    restored = state.default_model_info().model.trace(_image())
    np.testing.assert_array_equal(restored.logits, expected.logits)
    at.session_state["conv_tab"] = MODEL_TAB  # the prediction is said on the model's tab
    at.run()
    assert f"prediction **{expected.prediction}**" in _text(at)
    assert state.default_model_info().model.fingerprint() == default_before


def test_two_edits_restore_to_the_learned_model():
    """Editing two filters in a row, Restore goes back to the model before the first edit."""
    at = _page(conv_tab=EDITOR_TAB, conv_preset="emboss")
    at.button(key="conv_use").click().run()
    at.number_input(key="conv_target").set_value(1).run()
    at.button(key="conv_use").click().run()
    weights = at.session_state[state.MODEL].model.layer_weights("conv1")
    np.testing.assert_array_equal(weights[0, 0], weights[1, 0])  # both filters are emboss
    at.button(key="conv_restore").click().run()
    assert at.session_state[state.MODEL] is None


def test_an_edit_is_refused_with_a_reason_for_a_5x5_first_layer():
    """A session model whose conv1 is 5x5: the page explains why a 3x3 kernel cannot go in."""
    from cnn_core import CNN, ModelConfig

    model = CNN(ModelConfig(kernel_size=5, padding=2), seed=0)
    info = state.ModelInfo(model, "test:" + model.fingerprint(), False, "test", None)
    at = _page(conv_tab=EDITOR_TAB, **{state.MODEL: info})
    infos = [i.value for i in at.info]
    assert any("conv1's filters are 5x5 but the edited kernel is 3x3" in i for i in infos), infos
    assert not [b for b in at.button if b.key == "conv_use"]


def test_only_the_open_tab_is_drawn_and_a_tabs_settings_survive_a_visit_elsewhere():
    """Only the open tab's content runs (a click on a tab reruns the page); the toy's stride set
    on its tab is still 2 after a visit to the model's tab, which does not draw the toy."""
    at = _page(conv_tab=TOY_TAB)
    at.number_input(key="conv_toy_stride").set_value(2).run()
    assert "The output is **3x3**" in _text(at) and "PyTorch computed" not in _text(at)
    at.session_state["conv_tab"] = MODEL_TAB
    at.run()
    assert "PyTorch computed" in _text(at) and "The output is" not in _text(at)
    at.session_state["conv_tab"] = TOY_TAB
    at.run()
    assert at.session_state["conv_toy_stride"] == 2
    assert "The output is **3x3**" in _text(at)


def test_the_receptive_field_figure_is_drawn_once_its_expander_is_opened():
    """The field is said in words at once; its figure of the maps (and their table) is drawn
    only after the learner opens its expander."""
    at = _page()

    def fields():
        return [c for c in at.get("plotly_chart") if c.proto.id.endswith("-conv_fields")]

    said = "Output cell (14, 14) of conv1 sees input rows 13-15, columns 13-15"
    assert not fields() and any(said in c.value for c in at.caption)
    at.session_state["conv_fields_open"] = True
    at.run()
    assert not at.exception, at.exception
    assert len(fields()) == 1 and "maps from the input to conv1" in fields()[0].proto.alt
    labels = [e.label for e in at.expander]
    assert "Numbers as a table (the maps from the input on)" in labels
