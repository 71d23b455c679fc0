"""AppTest: the "What it looks at" page. Every number it prints is cnn_core.attribution's for the
same model and input; class, patch, stride, fill, patch cell and stage change them; a setting
the core refuses gives the core's sentence; the maps are cached across reruns."""

import base64
import html
import io
import re
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnn_core import attribution, load_default_model
from tests.conftest import HELD_OUT_INDEX, held_out_digit, open_link, open_page
from tests.conftest import page_text as _text
from ui import attribution_view, links, pages
from ui.attribution_view import number

PAGE = "app_pages/page_attribution.py"
ROOT = Path(__file__).resolve().parent.parent


def _image(index: int = HELD_OUT_INDEX) -> np.ndarray:
    return held_out_digit(index)


def _expected_trace():
    """The default model's trace of the held-out digit the sessions use as input."""
    return load_default_model().trace(_image())


def _set(at: AppTest, **values) -> AppTest:
    """Set the page's widgets by key, one script run each (as a learner would)."""
    for key, value in values.items():
        widget = next(w for w in [*at.selectbox, *at.toggle, *at.number_input, *at.slider]
                      if w.key == key)  # fmt: skip
        widget.set_value(value).run()
        assert not at.exception, at.exception
    return at


def _tab(at: AppTest, method: str) -> AppTest:
    """Open the tab of ``method`` ("saliency", "occlusion", "gradcam"), as a click on it does
    (only the open tab is drawn)."""
    at.session_state["attr_method"] = pages.ATTR_METHODS[method]
    at.run()
    assert not at.exception, at.exception
    return at


def _charts(at: AppTest) -> list[str]:
    """The keys of the page's Plotly charts (the element id ends with the key)."""
    return [c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")]


def _largest(values, digits: str = ".4g") -> str:
    """The words the page prints for a map's largest value, computed here from the core."""
    (v, r, c), *_ = attribution_view.largest(values, 1)
    return f"Largest value **{number(v, digits)}** at"


def _caption(at: AppTest, start: str) -> str:
    """The one caption (a chart's text alternative) that starts with ``start``."""
    (found,) = [c.value for c in at.caption if c.value.startswith(start)]
    return found


def _masked(at: AppTest) -> tuple[np.ndarray, str] | None:
    """The covered input the page shows as an image (one value per input pixel, read back
    from its PNG at view.CELL_PX screen pixels each) and its alt text; None if none."""
    page = "".join(m.value for m in at.markdown)
    found = re.search(r"<figure class='cs-masked'.*?<img src='data:image/png;base64,([^']+)' "
                      r"alt='([^']+)'", page)  # fmt: skip
    if found is None:
        return None
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(found.group(1)))))
    cell = attribution_view.CELL_PX
    assert (pixels == pixels[::cell, ::cell].repeat(cell, 0).repeat(cell, 1)).all()
    return pixels[::cell, ::cell], html.unescape(found.group(2))


def _runner_up(trace) -> int:
    return int(np.argsort(trace.probabilities)[-2])


def test_without_an_input_the_page_asks_for_one_and_draws_no_map():
    """No input yet: the prompt every page gives, and no chart."""
    at = open_page(PAGE)
    assert "There is no input yet" in _text(at)
    assert not _charts(at)


def test_by_default_the_prediction_and_the_runner_up_are_explained_side_by_side():
    """The page opens on the predicted class beside the runner-up, on the Saliency tab: its
    numbers (the largest value and its pixel, for both) are the core's, and only its two maps
    are drawn; each other tab draws its own two maps (and Occlusion the covered input)."""
    at = open_page(PAGE, digit=HELD_OUT_INDEX)
    model, trace = load_default_model(), _expected_trace()
    k, other = trace.prediction, _runner_up(trace)
    assert at.selectbox(key="attr_class").value == k
    assert at.selectbox(key="attr_other").value == other
    for c in (k, other):
        values = attribution.saliency(model, _image(), c)
        r, col = np.unravel_index(np.argmax(values), values.shape)
        assert f"{_largest(values)} pixel ({r}, {col})" in _caption(at, f"Saliency of class {c},")
    assert sorted(_charts(at)) == ["attr_saliency_0", "attr_saliency_1"]
    assert _masked(at) is None
    _tab(at, "gradcam")
    assert sorted(_charts(at)) == ["attr_gradcam_0", "attr_gradcam_1"]
    _tab(at, "occlusion")
    assert sorted(_charts(at)) == ["attr_occlusion_0", "attr_occlusion_1"]
    patch, stride, fill = (at.session_state[k] for k in ("attr_patch", "attr_stride", "attr_fill"))
    row, col = at.session_state["attr_occ_row"], at.session_state["attr_occ_col"]
    box = attribution_view.patch_box(row, col, patch, stride, 28)
    covered = attribution_view.masked_image(_image(), box, fill)
    shown, alt = _masked(at)
    np.testing.assert_array_equal(shown, (np.clip(covered, 0, 1) * 255).astype(np.uint8))
    assert alt.startswith(f"The input with patch ({row}, {col}) covered")


def test_another_class_alone_changes_every_number():
    """'Why not 4?': class 4 alone (no comparison) gives the core's saliency, occlusion and
    Grad-CAM numbers for class 4, and the page shows one map per method."""
    at = open_page(PAGE, digit=HELD_OUT_INDEX)
    model, trace = load_default_model(), _expected_trace()
    k = 4 if trace.prediction != 4 else 5
    _set(at, attr_compare=False, attr_class=k)
    saliency = attribution.saliency(model, _image(), k)
    assert f"{_largest(saliency)} pixel" in _caption(at, f"Saliency of class {k},")
    assert _text(at).count("Saliency of class") == 1
    assert "attr_saliency_1" not in _charts(at)
    _tab(at, "occlusion")
    drop = attribution.occlusion(model, _image(), k)
    assert _largest(drop, "+.4f") in _caption(at, f"Occlusion for class {k}:")
    assert f"class **{k}**: p = {trace.probabilities[k]:.2%}" in _text(at)
    _tab(at, "gradcam")
    stage = at.selectbox(key="attr_stage").value
    assert _gradcam_words(model, k, stage) in _caption(at, f"Grad-CAM of class {k} at {stage},")


def _gradcam_words(model, k: int, stage: str) -> str:
    """What the page says about the Grad-CAM of class k at stage, from the core."""
    cam = attribution.grad_cam(model, _image(), k, stage)
    (value, r, c), *_ = attribution_view.largest(cam, 1)
    if value <= 0:
        return "It is 0 everywhere"
    top, left, bottom, right = attribution.receptive_field(model.config, stage, r, c)
    return (
        f"Largest value **{value:.4g}** at cell ({r}, {c}), which sees input rows "
        f"{top}–{bottom} and columns {left}–{right}."
    )


def test_the_chosen_patch_shows_the_cores_drop_and_p_before_and_after():
    """Patch 5, stride 3, fill 1 (white), cell (2, 4): the page's count of positions, its drop
    and p with the patch covered are the core's occlusion map at that cell."""
    at = open_page(PAGE, digit=HELD_OUT_INDEX)
    model, trace = load_default_model(), _expected_trace()
    k = trace.prediction
    _tab(at, "occlusion")
    _set(at, attr_compare=False, attr_patch=5, attr_stride=3, attr_fill=1.0)
    _set(at, attr_occ_row=2, attr_occ_col=4)
    drop = attribution.occlusion(model, _image(), k, patch=5, stride=3, fill=1.0)
    assert drop.shape == (8, 8)
    text = _text(at)
    assert "**8 x 8** positions" in text
    before, value = float(trace.probabilities[k]), float(drop[2, 4])
    assert "rows 6–10 and columns 12–16" in text  # rows 2*3 .. 2*3+4, columns 4*3 .. 4*3+4
    after, drop_text = number(before - value, ".2%"), number(value, "+.4f")
    assert f"class **{k}**: p = {before:.2%} → **{after}**, a drop of **{drop_text}**" in text
    assert _largest(drop, "+.4f") in _caption(at, f"Occlusion for class {k}:")


@pytest.mark.parametrize("stage", ["conv1", "pool1", "act2"])
def test_grad_cam_follows_the_chosen_stage(stage):
    """Each stage's Grad-CAM words (largest cell and the input pixels it sees) are the core's,
    and its size is stated."""
    at = open_page(PAGE, digit=HELD_OUT_INDEX)
    model, trace = load_default_model(), _expected_trace()
    _set(_tab(at, "gradcam"), attr_compare=False, attr_stage=stage)
    k = trace.prediction
    assert _gradcam_words(model, k, stage) in _caption(at, f"Grad-CAM of class {k} at {stage},")
    h, w = attribution.grad_cam(model, _image(), k, stage).shape
    assert f"{stage} has **{h} x {w}** cells" in _text(at)


@pytest.mark.parametrize(
    "widget, value, args",
    [("attr_patch", 30, {"patch": 30}), ("attr_stride", 40, {"stride": 40})],
)
def test_a_setting_the_core_refuses_gives_its_sentence(widget, value, args):
    """A patch larger than the image, or a stride past it: the core's sentence, as a sentence,
    and no occlusion map; the other methods still show theirs."""
    at = open_page(PAGE, digit=HELD_OUT_INDEX)
    model, trace = load_default_model(), _expected_trace()
    with pytest.raises(ValueError) as refused:
        attribution.occlusion(model, _image(), trace.prediction, **args)
    _set(_tab(at, "occlusion"), **{widget: value})
    words = str(refused.value)
    assert [e.value for e in at.error] == [f"{words[0].upper()}{words[1:]}."]
    assert not _charts(at) and _masked(at) is None
    for method in ("saliency", "gradcam"):
        assert f"attr_{method}_0" in _charts(_tab(at, method)) and not at.error


def test_a_link_with_a_patch_too_large_opens_on_the_sentence():
    """A share link may carry a patch up to 64: the page opens on its Occlusion tab and says why
    there is no occlusion map, and the link itself is not reported as broken."""
    values = {"attr_patch": 40, "attr_method": "Occlusion"}
    at = open_link(links.encode("attribution", _image(), values))
    assert not at.exception, at.exception
    assert at.title[0].value == "What it looks at"
    assert [e.value for e in at.error] == ["The patch size must be from 1 to 28, got 40."]
    assert not [w for w in at.warning if "could not be used" in w.value]


def test_a_link_reopens_the_same_view_with_the_same_numbers():
    """Settings made in one session, shared as a link and opened in a fresh one: the widgets
    hold them and the numbers are the core's for them (class 3 beside 5, patch 6, stride 3,
    half-grey fill, patch (2, 5), Grad-CAM of pool1), each on its own tab: the link made on the
    Grad-CAM tab still holds the occlusion settings, and opens on the Grad-CAM tab."""
    occlusion = {"attr_patch": 6, "attr_stride": 3, "attr_fill": 0.5}
    occlusion |= {"attr_occ_row": 2, "attr_occ_col": 5}
    first = open_page(PAGE, digit=HELD_OUT_INDEX)
    _set(first, attr_class=3, attr_other=5)
    _set(_tab(first, "occlusion"), **occlusion)
    _set(_tab(first, "gradcam"), attr_stage="pool1")
    shared = {key: first.session_state[key] for key in links.SETTINGS["attribution"]}
    assert {key: shared[key] for key in occlusion} == occlusion
    at = open_link(links.encode("attribution", _image(), shared))
    assert not at.exception, at.exception
    assert not [w for w in at.warning if "could not be used" in w.value]
    assert at.session_state["attr_method"] == "Grad-CAM"
    assert at.selectbox(key="attr_stage").value == "pool1"
    model, p = load_default_model(), _expected_trace().probabilities
    for k in (3, 5):
        assert _gradcam_words(model, k, "pool1") in _caption(at, f"Grad-CAM of class {k} at")
    _tab(at, "occlusion")
    assert at.slider(key="attr_occ_col").value == 5
    text = _text(at)
    assert "rows 6–11 and columns 15–20" in text
    for k in (3, 5):
        drop = attribution.occlusion(model, _image(), k, patch=6, stride=3, fill=0.5)[2, 5]
        after, drop_text = number(p[k] - drop, ".2%"), number(drop, "+.4f")
        assert f"class **{k}**: p = {p[k]:.2%} → **{after}**, a drop of **{drop_text}**" in text


def test_maps_are_cached_across_reruns(monkeypatch):
    """Only the open tab's method is computed; a rerun that changes only the Grad-CAM stage,
    and going back to the other tabs, runs no new saliency or occlusion."""
    calls = []
    for name in ("saliency", "occlusion"):
        real = getattr(attribution, name)
        monkeypatch.setattr(
            attribution, name, lambda *a, _f=real, _n=name, **kw: calls.append(_n) or _f(*a, **kw)
        )
    st.cache_data.clear()
    at = open_page(PAGE, digit=HELD_OUT_INDEX)
    assert calls == ["saliency", "saliency"]
    _tab(at, "occlusion")
    assert sorted(calls) == ["occlusion", "occlusion", "saliency", "saliency"]
    _set(_tab(at, "gradcam"), attr_stage="pool1")
    at.run()
    _tab(_tab(at, "saliency"), "occlusion")
    assert len(calls) == 4


def test_the_ink_is_outlined_along_the_edges_of_its_pixels():
    """The outline runs between ink (> INK_LEVEL) and no ink, the image's border included, as
    one SVG path drawn twice (black under white) on each map; no contour is left to trace."""
    image = np.zeros((4, 4), np.float32)
    image[1:3, 1] = image[2, 2] = 1.0  # an L of three pixels
    assert attribution_view.ink_edges(image) == (
        "M0.5,0.5H1.5M1.5,1.5H2.5M0.5,2.5H2.5M0.5,0.5V2.5M1.5,0.5V1.5M2.5,1.5V2.5"
    )
    assert attribution_view.ink_edges(np.ones((2, 2))) == (
        "M-0.5,-0.5H1.5M-0.5,1.5H1.5M-0.5,-0.5V1.5M1.5,-0.5V1.5"
    )
    fig = attribution_view.overlay(
        image, image, attribution_view.Placement.pixels(), (0.0, 1.0), "Viridis",
        title="t", bar="b", hover="",
    )  # fmt: skip
    paths = [s for s in fig.layout.shapes if s.type == "path"]
    assert [p.line.color for p in paths] == ["black", "white"]
    assert {p.path for p in paths} == {attribution_view.ink_edges(image)}
    assert [t.type for t in fig.data] == ["heatmap"]


def test_figures_module_imports_neither_streamlit_nor_torch():
    """ui/attribution_view.py builds figures from plain arrays, like ui/figures.py."""
    from tests.test_architecture import _imported_roots

    roots = _imported_roots(ROOT / "ui" / "attribution_view.py")
    assert not roots & {"streamlit", "torch", "cnn_core"}
