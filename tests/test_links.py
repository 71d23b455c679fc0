"""Share links: the image codec, typed settings, and a round trip through a fresh AppTest session
(page, input and settings restored; every malformed kind of value gives the visible note)."""

import base64
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_
from hypothesis.extra.numpy import arrays
from streamlit.testing.v1 import AppTest

from cnn_core import share
from cnn_core.data import load_bundled
from tests.conftest import open_link, open_page
from ui import links, pages, state


def _digit(index: int = 3) -> np.ndarray:
    return load_bundled().test.images[index] / np.float32(255)


# ----------------------------------------------------------------------------------------------
# image codec


def test_a_bundled_digit_round_trips_exactly_and_is_short():
    """A bundled digit (8-bit data) encodes to a 'b' text under 600 characters that decodes to
    the same array."""
    image = _digit()
    text = share.encode_image(image)
    assert text.startswith("b") and len(text) < 600
    np.testing.assert_array_equal(share.decode_image(text), image)  # 8-bit data: exact


def test_every_held_out_digit_fits_the_budget():
    """Every 7th held-out digit encodes within share.MAX_IMAGE_CHARS."""
    lengths = [len(share.encode_image(_digit(i))) for i in range(0, 1000, 7)]
    assert max(lengths) <= share.MAX_IMAGE_CHARS


def test_noise_falls_back_to_4_bits_within_the_budget():
    """Random noise, too long at 8 bits, is encoded at 4 bits ('q') within the budget and
    decodes within half a 4-bit step."""
    noise = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    text = share.encode_image(noise)
    assert text.startswith("q") and len(text) <= share.MAX_IMAGE_CHARS
    np.testing.assert_allclose(share.decode_image(text), noise, atol=17 / 255 / 2 + 1e-6)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, (28, 28), elements=st_.floats(0, 1, width=32)))
def test_any_image_round_trips_within_quantisation(image):
    """Any 28x28 image in [0, 1] encodes within the budget and decodes within half a
    quantisation step of its encoding."""
    text = share.encode_image(image)
    assert len(text) <= share.MAX_IMAGE_CHARS
    atol = 0.5 / 255 + 1e-6 if text[0] == "b" else 17 / 255 / 2 + 1e-6
    np.testing.assert_allclose(share.decode_image(text), image, atol=atol)


def test_encode_refuses_wrong_shapes_and_non_finite_values():
    """encode_image refuses a 27x28 image and an image holding NaN, saying why."""
    with pytest.raises(ValueError, match="28x28"):
        share.encode_image(np.zeros((27, 28)))
    bad = np.zeros((28, 28), np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        share.encode_image(bad)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("x" + _b64(zlib.compress(bytes(784))), "unknown"),
        ("b!!!!", "base64"),
        ("b" + _b64(b"not zlib at all"), "corrupt"),
        ("b" + _b64(zlib.compress(bytes(100))), "100 pixels"),
        ("b" + _b64(zlib.compress(bytes(200_000), 9)), "larger than"),  # a small zlib bomb
        ("b" + _b64(zlib.compress(bytes(784))[:-6]), "truncated"),
        ("b" + "A" * 5000, "too long"),
        ("q" + _b64(zlib.compress(bytes(10))), "20 pixels"),
    ],
    ids=lambda v: v if len(str(v)) < 20 else None,
)
def test_decode_refuses_with_a_reason(text, words):
    """decode_image refuses empty, unknown-prefix, bad base64, corrupt and wrongly-sized texts
    with LinkError naming the problem."""
    with pytest.raises(share.LinkError, match=words):
        share.decode_image(text)


# ----------------------------------------------------------------------------------------------
# typed settings


@pytest.mark.parametrize(
    "setting, text, value",
    [
        (share.Setting("int", 0, 9), "7", 7),
        (share.Setting("float", 0.1, 10), "2.5", 2.5),
        (share.Setting("bool"), "true", True),
        (share.Setting("bool"), "0", False),
        (share.Setting("choice", choices=("max", "avg")), "avg", "avg"),
        (share.Setting("grid"), "0,-1,0;-1,5,-1;0,-1,0", "0 -1 0\n-1 5 -1\n0 -1 0"),
    ],
)
def test_settings_parse_and_format_back(setting, text, value):
    """Each Setting parses its text to the value and parses its own format of the value back to
    it."""
    assert setting.parse(text) == value
    assert setting.parse(setting.format(value)) == value


@pytest.mark.parametrize(
    "setting, text, words",
    [
        (share.Setting("int", 0, 9), "seven", "whole number"),
        (share.Setting("int", 0, 9), "99", "outside"),
        (share.Setting("int", 0, 9), "-1", "outside"),
        (share.Setting("float", 0.1, 10), "nan", "not finite"),
        (share.Setting("float", 0.1, 10), "1e309", "not finite"),
        (share.Setting("float", 0.1, 10), "0", "outside"),
        (share.Setting("bool"), "maybe", "true or false"),
        (share.Setting("choice", choices=("max", "avg")), "<b>min</b>", "not one of"),
        (share.Setting("grid"), "1,nan;0,0", "NaN"),
        (share.Setting("grid"), "1,2;3", "different lengths"),
        (share.Setting("int", 0, 9), "1" * 1000, "too long"),
    ],
)
def test_settings_refuse_with_a_reason(setting, text, words):
    """Each Setting refuses a value of the wrong type or outside its bounds with LinkError
    naming the problem."""
    with pytest.raises(share.LinkError, match=words):
        setting.parse(text)


def test_quoted_untrusted_text_carries_no_markup():
    """safe_name replaces markup characters, and a refused value is quoted in the error without
    its brackets."""
    assert share.safe_name("<script>alert(1)</script>") == "?script?alert?1???script?"
    with pytest.raises(share.LinkError) as err:
        share.Setting("int", 0, 9).parse("[x](javascript:alert(1))")
    assert "(" not in str(err.value).split("'")[1]


def test_read_sorts_good_values_from_notes():
    """links.read keeps the valid page, image and pool_row and notes the bad column, the unknown
    key and the bad mode."""
    values, notes = links.read(
        {
            "page": "pooling",
            "img": share.encode_image(_digit()),
            "pool_row": "3",
            "pool_col": "abc",
            "evil": "<script>",
            "mode": "admin",
        }
    )
    assert values["page"] == "pooling" and values["pool_row"] == 3
    assert values["img"].shape == (28, 28) and "mode" not in values
    text = " ".join(notes)
    assert "pool_col" in text and "evil" in text and "mode" in text


def test_read_caps_the_number_of_parameters():
    """links.read of 500 parameters uses none of them and notes that only the first ones are
    read."""
    values, notes = links.read({f"k{i}": "1" for i in range(500)})
    assert not values and "only the first" in notes[0]


# ----------------------------------------------------------------------------------------------
# round trip through a fresh session


def _open(params: dict[str, str]) -> AppTest:
    """A fresh session opened from a link with these query parameters."""
    return open_link(params)


def _notes(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def test_a_link_restores_page_input_and_settings():
    """A dense-page link opens that page in a fresh session with the image and the three
    settings, no note, and the default model."""
    image = _digit(5)
    params = links.encode(
        "dense", image, {"dense_class": 4, "softmax_temperature": 2.5, "softmax_label": 1}
    )
    at = _open(params)
    assert not at.exception, at.exception
    assert at.title[0].value == "Dense & softmax"
    np.testing.assert_array_equal(at.session_state[state.INPUT], image)
    assert at.session_state["softmax_temperature"] == 2.5
    assert at.slider(key="softmax_temperature").value == 2.5
    assert at.selectbox(key="dense_class").value == 4
    assert not _notes(at)
    # the model is the default one and the training panel is there
    assert "the default model" in "\n".join(m.value for m in at.sidebar.markdown)


def test_a_class_link_hides_training_and_keeps_the_default_model():
    """A link with mode=class hides the Train button, says Class mode and keeps the default
    model."""
    at = _open({"page": "draw", "mode": "class", "img": share.encode_image(_digit())})
    assert not at.exception, at.exception
    assert not [b for b in at.sidebar.button if b.key == "train_button"]
    assert "Class mode" in "\n".join(c.value for c in at.sidebar.caption)
    assert state.MODEL not in at.session_state or at.session_state[state.MODEL] is None


@pytest.mark.parametrize(
    "params, words",
    [
        ({"page": "nowhere"}, "no page"),
        ({"img": "b%%%"}, "img"),
        ({"img": "b" + "A" * 3000}, "too long"),
        ({"page": "dense", "softmax_temperature": "hot"}, "softmax_temperature"),
        ({"page": "dense", "softmax_temperature": "1e9"}, "outside"),
        ({"page": "dense", "dense_class": "1.5"}, "whole number"),
        ({"page": "dense", "<script>alert(1)</script>": "1"}, "unknown"),
        ({"mode": "root"}, "only mode"),
        ({"page": "pooling", "tour": "maybe"}, "tour"),
        ({"page": "dense", "seed": "-3"}, "seed"),
    ],
)
def test_each_malformed_kind_gives_the_note_and_no_traceback(params, words):
    """Each kind of malformed link gives a note naming the problem, no traceback and no half-
    applied input."""
    at = _open(params)
    assert not at.exception, at.exception
    notes = _notes(at)
    assert "could not be used" in notes and words in notes
    assert "<script>" not in notes
    # nothing half-applied for a broken image: the session still has no input
    assert state.INPUT not in at.session_state or at.session_state[state.INPUT] is None


def test_a_link_restores_the_convolution_playground_and_kernel():
    """A convolution link carries the toy settings, the kernel (as rows;cols text) and the
    channel into a fresh session."""
    params = links.encode(
        "convolution",
        _digit(2),
        {
            "conv_toy_stride": 2,
            "conv_toy_padding": 0,
            "conv_toy_k": 3,
            "conv_kernel": "0 -1 0\n-1 5 -1\n0 -1 0",
            "conv_channel": 3,
        },
    )
    assert params["conv_kernel"] == "0,-1,0;-1,5,-1;0,-1,0"
    at = _open(params)
    assert not at.exception, at.exception
    assert at.title[0].value == "Convolution"
    assert at.session_state["conv_kernel"] == "0 -1 0\n-1 5 -1\n0 -1 0"
    assert at.number_input(key="conv_channel").value == 3
    assert not _notes(at)
    at.session_state["conv_tab"] = links.CONV_TABS["toy"]  # the toy is drawn on its own tab
    at.run()
    assert "The output is **3x3**" in "\n".join(m.value for m in at.markdown)


PAGE_FILES = {page.slug: page.file for page in pages.PAGES}  # the page registry
CHANGES = {  # one non-default value per page, so the round trip proves more than defaults
    "draw": {"draw_center": False},
    "convolution": {"conv_channel": 5, "conv_row": 3, "conv_toy_stride": 2},
    "activation": {"act_function": "tanh", "act_channel": 2, "act_row": 5, "act_col": 9},
    "pooling": {
        "pool_mode": "avg",
        "pool_size": 3,
        "pool_ceil": True,
        "pool_shift": "up",
        "pool_row": 2,  # a picked cell (a click or the sliders)
        "pool_col": 4,
    },
    "flatten": {"flat_index": 300},
    "dense": {"softmax_temperature": 3.5, "softmax_label": 2, "dense_spots": 5},
    "attribution": {
        "attr_class": 3,
        "attr_compare": False,
        "attr_patch": 6,
        "attr_stride": 3,
        "attr_fill": 0.5,
        "attr_occ_row": 2,
        "attr_occ_col": 5,
        "attr_stage": "pool1",
    },
    "training": {"train_true": 4, "train_pred": 9},
}


@pytest.mark.parametrize("slug", sorted(PAGE_FILES))
def test_every_page_view_round_trips(slug):
    """Set up a view in one session, encode it, open the link in a fresh session: every
    shareable setting the first session had is the same in the second."""
    image = _digit(9)
    page = None if pages.BY_SLUG[slug] is pages.HOME else PAGE_FILES[slug]
    first = open_page(page, image=image, settings=CHANGES[slug])
    shared = {k: first.session_state[k] for k in links.SETTINGS[slug] if k in first.session_state}
    for key, value in CHANGES[slug].items():
        assert shared[key] == value, key
    params = links.encode(slug, image, shared)
    assert len(params.get("img", "")) < share.MAX_IMAGE_CHARS

    second = _open(params)
    assert not second.exception, second.exception
    assert not _notes(second)
    np.testing.assert_array_equal(second.session_state[state.INPUT], image)
    for key, value in shared.items():
        got = second.session_state[key]
        if isinstance(value, str) and "\n" in value:  # grids come back in canonical text
            assert share.Setting("grid").parse(links.SETTINGS[slug][key].format(got)) == (
                share.Setting("grid").parse(links.SETTINGS[slug][key].format(value))
            ), key
        else:
            assert got == value, key


def test_a_link_reopens_the_activation_view_the_flatten_chart_and_the_exercises():
    """The Activation page's tab under the maps (``act_view``), Flatten's clickable chart of
    every channel (``flat_pick_all``) and a page's exercises expander (``ex_open_<page>``) are
    link settings: a link made with them reopens the page with them, without a note."""
    image = _digit(4)
    values = {"act_view": "Changed cells", "ex_open_activation": True}
    params = links.encode("activation", image, values)
    assert params["act_view"] == "changed" and params["ex_open_activation"] == "1"
    at = _open(params)
    assert not at.exception, at.exception
    assert not _notes(at)
    tabs = next(node for node in at.main if node.type == "tab_container")
    labels = [tab.label for tab in tabs.children.values()]
    assert labels[tabs.proto.tab_container.default_tab_index] == "Changed cells"
    assert [w for w in at.selectbox if w.key == "ex_kind_activation"]  # the exercises are open
    at = _open(links.encode("flatten", image, {"flat_pick_all": True}))
    assert not at.exception, at.exception
    assert at.toggle(key="flat_pick_all").value is True and not _notes(at)
