"""AppTest of the home page (app_pages/page_draw.py, ui/samples.py): the ways to make an input
are one choice named in the text, gallery buttons say what they do, and the wording and samples
follow the data set of the model in use (digits, Fashion-MNIST, or classes of its own)."""

import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from cnn_core import load_default_model
from cnn_core.data import CLASS_NAMES, DataError, load_bundled, load_dataset
from tests.conftest import held_out_digit, live_markup, markup_text, open_page
from ui import pages, samples, state, theme

TABS = ["Draw", "Pick a sample", "Upload a photo", "Keyboard"]
FASHION_TRAINED_ON = "Fashion-MNIST (70,000): 60,000 images"


def _home(class_names=None, tab: str = "Pick a sample") -> AppTest:
    """The home page of a fresh session with the input tab ``tab`` open (only the open tab's
    content runs); with ``class_names``, the session's own model is the default model's weights
    under those class names (what a run on another data set gives)."""
    info = None
    if class_names is not None:
        info = state.ModelInfo.own(load_default_model(), FASHION_TRAINED_ON, 0.85, class_names)
    return open_page(model=info, settings={"draw_input_tab": tab})


def _use_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button if str(b.key).startswith("gallery_use_")]


def _text(at: AppTest) -> str:
    live = [markup_text(h) for h in live_markup(at).values()]
    return "\n".join([*(m.value for m in [*at.markdown, *at.caption, *at.info]), *live])


def _prompt(at: AppTest) -> str:
    """The text of the prompt beside the inputs while there is no input ('' when none)."""
    found = re.search(r"<div class='cs-prompt'[^>]*>(.*?)</div>", live_markup(at)["draw_result"])
    return markup_text(found.group(1)) if found else ""


def test_the_ways_to_make_an_input_are_one_choice_and_the_text_names_them():
    """Draw, Pick a sample, Upload a photo and Keyboard are one segmented control (not tabs,
    which cost every stroke time in the browser), in that order, showing the chosen one; the
    text names each and the prompt says where the choice, the prediction and the stages are."""
    at = _home()
    choice = at.segmented_control(key="draw_input_tab")
    assert choice.options == TABS and choice.value == "Pick a sample"
    assert not at.tabs
    intro = " ".join(at.main.markdown[0].value.split())  # the text file wraps its lines
    assert all(f"**{tab}**" in intro for tab in TABS)
    assert at.main.title[0].value == "Draw a digit, watch the network read it"
    assert _prompt(at) == (
        "Draw a digit in the black square, or use the buttons above it to pick a sample or upload "
        "a photo: the prediction appears here, and every stage of the network below."
    )


def test_only_the_open_input_tab_runs():
    """A stroke reruns the page with the Draw tab open: the gallery's images and buttons, the
    upload control and the keyboard grid are not built then; each is there once its tab is
    open, and the canvas's controls are not."""
    at = _home(tab="Draw")
    assert at.slider(key="draw_brush").label == "Brush width"
    assert not _use_buttons(at) and not _uploads(at) and not at.main.get("image")
    at.segmented_control(key="draw_input_tab").set_value("Pick a sample").run()  # as clicked
    assert len(_use_buttons(at)) == 10 and len(at.main.get("image")) == 10
    assert not [s for s in at.slider if s.key == "draw_brush"]
    at.session_state["draw_input_tab"] = "Upload a photo"
    at.run()
    assert not _use_buttons(at) and _uploads(at) == ["draw_upload"]


def _uploads(at: AppTest) -> list[str]:
    return [u.key for u in at.main.get("file_uploader")]


def test_each_stage_kind_links_to_its_page_even_before_a_drawing():
    """Under the overview, one link per page that explains a stage of the network in use, in
    the stages' order; they follow the architecture, so they are there before any input."""
    at = _home(tab="Draw")
    assert _prompt(at).startswith("Draw a digit")  # no input yet
    labels = [link.proto.label for link in at.main.get("page_link")]
    assert labels[0].startswith("Why this prediction? What it looks at")  # above the overview
    labels = labels[1:]
    wanted = ["Convolution", "Activation", "Pooling", "Flatten", "Dense & softmax"]
    assert labels == [pages.for_kind(k).title for k in ("conv", "activation", "pool", "flatten",
                                                        "dense")]  # fmt: skip
    assert labels == wanted


def test_gallery_buttons_name_the_digit_they_use():
    """With "any" class, the ten buttons read "Use digit 0" ... "Use digit 9", one per class, and
    each is under the first held-out digit of its class."""
    at = _home()
    assert _use_buttons(at) == [f"Use digit {k}" for k in range(10)]
    labels = load_bundled().test.labels
    for button in at.button:
        if str(button.key).startswith("gallery_use_"):
            index = int(str(button.key).removeprefix("gallery_use_"))
            assert button.label == f"Use digit {labels[index]}"


def test_gallery_of_one_class_has_ten_different_button_names():
    """Picking class 4 shows ten of its digits, each button named apart from the others."""
    at = _home()
    at.selectbox(key="gallery_class").set_value(4).run()
    assert _use_buttons(at) == [f"Use digit 4, example {k}" for k in range(1, 11)]


def test_a_fashion_model_gets_clothes_wording_and_a_fashion_gallery():
    """A model trained on Fashion-MNIST: the heading, intro and prompt speak of clothes, the page
    says what the model was trained on, the gallery shows Fashion-MNIST's held-out images named
    by class, and the canvas is still there to draw on."""
    at = _home(CLASS_NAMES["fashion-mnist"])
    assert at.main.title[0].value == "Watch the network tell clothes apart"
    assert "not handwritten digits" in at.main.markdown[0].value
    assert at.main.caption[0].value == (
        f"The model in use was trained on {FASHION_TRAINED_ON}; it tells apart 10 classes: "
        "T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot."
    )
    assert _prompt(at).startswith("Draw a piece of clothing in the black square")
    assert "digit" not in at.main.title[0].value + _prompt(at)
    assert _use_buttons(at) == [
        "Use a T-shirt or top", "Use trousers", "Use a pullover", "Use a dress", "Use a coat",
        "Use a sandal", "Use a shirt", "Use a sneaker", "Use a bag", "Use an ankle boot",
    ]  # fmt: skip
    assert at.button(key="gallery_random").label == "Random piece of clothing"
    at.session_state["draw_input_tab"] = "Draw"
    at.run()
    assert at.slider(key="draw_brush").label == "Brush width"  # drawing is still offered


def test_using_a_fashion_sample_makes_it_the_input():
    """Pressing "Use a sneaker" makes that held-out Fashion-MNIST image the input, described as
    such, and the page shows the model's prediction for it."""
    at = _home(CLASS_NAMES["fashion-mnist"])
    key = next(b.key for b in at.button if b.label == "Use a sneaker")
    at.button(key=key).click().run()
    index = int(key.removeprefix("gallery_use_"))
    test = load_dataset("fashion-mnist").test
    assert test.labels[index] == 7  # Sneaker
    assert at.session_state[state.INPUT_SOURCE] == (
        f"held-out Fashion-MNIST image #{index} (a sneaker)"
    )
    assert np.array_equal(at.session_state[state.INPUT], test.images[index] / np.float32(255))
    assert "predicted with probability" in live_markup(at)["draw_result"]
    assert not _prompt(at)


def test_a_model_with_classes_of_its_own_has_no_gallery_but_says_why():
    """A model file with other class names gets plain wording and, instead of samples of another
    data set, a sentence that says why there are none."""
    names = tuple(f"class {k}" for k in range(10))
    at = _home(names)
    assert at.main.title[0].value == "Draw a picture, watch the network read it"
    assert not _use_buttons(at)
    assert (
        "This model has classes of its own, so there are no samples to pick here. "
        "Draw a picture or upload a photo instead."
    ) in [i.value for i in at.info]


def test_samples_are_none_when_the_data_set_is_missing(monkeypatch):
    """A Fashion-MNIST model on a server without Fashion-MNIST gets no samples (the page says so)
    rather than an error."""

    def missing(name):
        raise DataError(f"{name} is not on this server.")

    monkeypatch.setattr(samples.state, "dataset_split", missing)
    assert samples.samples(samples.FASHION) is None
    assert samples.samples(samples.OTHER) is None


@pytest.mark.parametrize(
    ("names", "subject"),
    [
        (CLASS_NAMES["digits"], samples.DIGITS),
        (CLASS_NAMES["mnist"], samples.DIGITS),
        (CLASS_NAMES["fashion-mnist"], samples.FASHION),
        (tuple("abcdefghij"), samples.OTHER),
    ],
)
def test_the_subject_follows_the_class_names(names, subject):
    """Digits for the bundled digits and MNIST, clothes for Fashion-MNIST, plain otherwise."""
    assert samples.subject_of(names) is subject


def _torch_outputs(index: int):
    """(logits, probabilities) of the default model for held-out digit ``index``, from
    PyTorch's own forward pass and softmax."""
    model = load_default_model()
    with torch.no_grad():
        logits = model(torch.from_numpy(held_out_digit(index))[None, None])[0]
    return logits.numpy(), torch.softmax(logits, 0).numpy()


def test_the_light_bars_and_rows_print_pytorchs_numbers():
    """With held-out digit 7, the probability table prints PyTorch's softmax for every class
    (0.1 %), and the overview's dense and softmax rows print its logits (2 decimals) and
    probabilities (3 decimals), each in its class's cell."""
    logits, probs = _torch_outputs(7)
    live = live_markup(open_page(digit=7))
    bars = live["draw_result"]
    assert "<table class='cs-probabilities'" in bars
    shown = re.findall(r"<td[^>]*>([\d.]+%)", bars)
    assert shown == [f"{p:.1%}" for p in probs]
    stages = live["draw_overview"]  # the overview's table
    assert "<table class='cs-stages'" in stages
    rows = re.findall(r"<table class='cs-value-row'.*?</table>", stages)
    cells = [re.findall(r"color:#\w+'>([^<]*)</td>", h) for h in rows]
    assert cells == [
        [theme.cell_text(v, 2) for v in logits],
        [theme.cell_text(v, 3) for v in probs],
    ]


def test_numbers_tables_are_made_only_when_opened():
    """One "Numbers as a table" expander for every stage of maps and the flattened vector, empty
    while closed (a stroke sends no table); opened, it offers each such stage and shows the
    chosen one's numbers as the model computed them: conv1's first map, then the flatten
    vector as one row."""
    at = open_page(digit=7)
    assert [e.label for e in at.main.expander] == ["Numbers as a table (any stage)"]
    assert not at.dataframe
    at.session_state["draw_tables_open"] = True
    at.run()
    trace = load_default_model().trace(held_out_digit(7))
    offered = at.selectbox(key="draw_table_stage").options
    wanted = [s.name for s in trace.stages if s.output.ndim == 3 and s.kind != "input"]
    assert offered == [*wanted, "flatten"]
    conv1 = trace.stages[1]
    assert conv1.name == "conv1" and at.selectbox(key="draw_table_stage").value == "conv1"
    np.testing.assert_allclose(at.dataframe[0].value.to_numpy(), conv1.output[0], rtol=1e-6)
    at.selectbox(key="draw_table_stage").set_value("flatten").run()
    flat = next(s for s in trace.stages if s.kind == "flatten").output
    np.testing.assert_allclose(at.dataframe[0].value.to_numpy(), flat.reshape(1, -1), rtol=1e-6)


def test_before_any_input_the_live_elements_are_there_and_say_so():
    """With no input the prediction's and the overview's elements are already on the page (a
    first stroke changes them in place), the first with the prompt and neither with a
    prediction; with an input they show it, the prediction beside the current input's name."""
    live = live_markup(_home(tab="Draw"))
    assert list(live) == ["draw_result", "draw_overview"]
    assert "cs-prediction" not in "".join(live.values())
    assert "No input yet: draw a digit" in markup_text(live["draw_overview"])
    at = open_page(digit=7)
    live = live_markup(at)
    trace = load_default_model().trace(held_out_digit(7))
    result = markup_text(live["draw_result"])
    assert f"Current input: {at.session_state[state.INPUT_SOURCE]}" in result
    assert f"{trace.prediction} predicted with probability" in result
    assert "<table class='cs-stages'" in live["draw_overview"]
