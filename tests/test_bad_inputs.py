"""The hostile-input battery: what a class of curious students will type, draw, upload and link.

Every case either raises a ValueError (or subclass) whose text tells the learner what to fix, or,
for cases that go through the app, shows a message in the page with no traceback and leaves the
session's model and input exactly as they were. Each case is bounded by pytest-timeout (no timed
assertions: the machines are shared).
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save as save_tensors
from streamlit.testing.v1 import AppTest

from cnn_core import CNN, ModelConfig, imagefile, ops, preprocess_canvas, share, toy
from cnn_core.checkpoint import (
    MAX_BYTES,
    CheckpointError,
    load_checkpoint,
    load_compatible,
    save_checkpoint,
)
from cnn_core.data import load_bundled
from cnn_core.limits import ModelTooLargeError, check_model_size
from cnn_core.train import TrainConfig
from tests.conftest import open_page
from ui import links, state

pytestmark = pytest.mark.timeout(120)


# ----------------------------------------------------------------------------------------------
# helpers


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_header(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image while its data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (
        imagefile.PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(256)))
        + chunk(b"IEND", b"")
    )


def _checkpoint(config: ModelConfig | None = None, **overrides) -> bytes:
    return save_checkpoint(CNN(config or ModelConfig(), seed=1), **overrides)


def _tensors_with(change) -> bytes:
    """A checkpoint whose tensors were altered by ``change(dict)``; the metadata stays valid."""
    good = _checkpoint()
    model, metadata = load_checkpoint(good)
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    change(tensors)
    return save_tensors(tensors, metadata=metadata)


def _expect(fn, error, words):
    with pytest.raises(error) as caught:
        fn()
    message = str(caught.value)
    for word in words.split("|"):
        if word.lower() in message.lower():
            break
    else:
        raise AssertionError(f"message {message!r} does not say any of {words!r}")
    assert "Traceback" not in message and len(message) < 400


# ----------------------------------------------------------------------------------------------
# 1. the canvas and uploaded images (pure reader + preprocessing)

BLANK = np.zeros((280, 280, 4), np.uint8)
BLANK[..., 3] = 255
TRANSPARENT = np.zeros((280, 280, 4), np.uint8)


def test_blank_canvas_is_empty_not_an_error():
    """An untouched black canvas is reported as empty, not as an error."""
    assert preprocess_canvas(BLANK).is_empty


def test_transparent_canvas_is_empty_not_an_error():
    """A fully transparent canvas is reported as empty, not as an error."""
    assert preprocess_canvas(TRANSPARENT).is_empty


def test_white_canvas_is_empty_not_an_error():
    """A canvas painted all white (no stroke to find) is reported as empty, not as an error."""
    assert preprocess_canvas(np.full((280, 280, 4), 255, np.uint8)).is_empty


IMAGE_CASES = {
    "canvas-not-png": (b"\xff\xd8\xff\xe0 a jpeg pretending", ("PNG",), "not a PNG"),
    "canvas-html": (b"<html><script>alert(1)</script>", ("PNG",), "not a PNG"),
    "canvas-huge-header": (_bomb_header(20_000, 20_000), ("PNG",), "megapixels|too large"),
    "canvas-truncated": (_png(np.full((64, 64), 200, np.uint8))[:60], ("PNG",), "decoded"),
    "upload-empty": (b"", ("PNG", "JPEG"), "empty"),
    "upload-gif": (b"GIF89a" + bytes(64), ("PNG", "JPEG"), "not a PNG or JPEG"),
    "upload-svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", ("PNG", "JPEG"), "not a PNG"),
    "upload-pickle": (pickle.dumps({"x": 1}), ("PNG", "JPEG"), "not a PNG or JPEG"),
    "upload-bomb": (_bomb_header(100_000, 100_000), ("PNG", "JPEG"), "megapixels|too large"),
    "upload-too-many-bytes": (b"\x89PNG\r\n\x1a\n" + bytes(6 * 2**20), ("PNG",), "MB"),
    "upload-truncated-jpeg": (b"\xff\xd8\xff\xe0" + bytes(30), ("PNG", "JPEG"), "decoded"),
}


@pytest.mark.parametrize("name", sorted(IMAGE_CASES))
def test_image_bytes_are_refused_with_a_reason(name):
    """Every hostile image file in IMAGE_CASES raises ImageFileError whose text names the
    problem."""
    raw, formats, words = IMAGE_CASES[name]
    _expect(lambda: imagefile.read_image(raw, formats=formats), imagefile.ImageFileError, words)


# ----------------------------------------------------------------------------------------------
# 2. kernels typed in the editor (the same parser serves the pages and the links)

KERNEL_TEXT = {
    "nan": ("0 0 0\n0 nan 0\n0 0 0", "NaN"),
    "inf": ("0 0 0\n0 inf 0\n0 0 0", "infinite"),
    "minus-inf": ("-inf 0 0\n0 1 0\n0 0 0", "infinite"),
    "1e38": ("1e38 0 0\n0 1 0\n0 0 0", "within"),
    "empty-cell": ("1 , , 1\n0 1 0\n0 0 0", "different lengths|empty"),
    "empty-text": ("", "empty"),
    "wrong-size": ("1 0\n0 1", "must be 3x3"),
    "ragged": ("1 0 0\n0 1\n0 0 0", "different lengths"),
    "words": ("one two three\n0 1 0\n0 0 0", "not a number"),
    "script": ("<script>alert(1)</script>", "not a number"),
    "huge-text": ("1 " * 5000, "too long"),
}


@pytest.mark.parametrize("name", sorted(KERNEL_TEXT))
def test_kernel_text_is_refused_with_a_reason(name):
    """Every malformed kernel text in KERNEL_TEXT raises ValueError whose text names the
    problem."""
    text, words = KERNEL_TEXT[name]
    _expect(lambda: toy.parse_grid(text, name="kernel", shape=(3, 3)), ValueError, words)


def test_a_nan_kernel_never_reaches_a_convolution():
    """ops.conv2d refuses a kernel of NaNs with a ValueError that says NaN, instead of computing
    NaNs."""
    x = np.zeros((1, 28, 28), np.float32)
    kernel = np.full((1, 1, 3, 3), np.nan, np.float32)
    _expect(lambda: ops.conv2d(x, kernel, np.zeros(1, np.float32)), ValueError, "NaN")


# ----------------------------------------------------------------------------------------------
# 3. hyperparameters

X = np.zeros((1, 7, 7), np.float32)
K3 = np.ones((1, 1, 3, 3), np.float32)
HYPER = {
    "stride-zero": (lambda: ops.conv2d(X, K3, stride=0), "positive"),
    "stride-negative": (lambda: ops.conv2d(X, K3, stride=-2), "positive"),
    "stride-float": (lambda: ops.conv2d(X, K3, stride=1.5), "whole number"),
    "padding-negative": (lambda: ops.conv2d(X, K3, padding=-1), "non-negative"),
    "padding-explodes": (lambda: ops.conv2d(X, K3, padding=10**7), "at most 1024"),
    "kernel-larger-than-input": (
        lambda: ops.conv2d(X, np.ones((1, 1, 9, 9), np.float32)),
        "larger than the padded input",
    ),
    "output-size-empty": (lambda: ops.conv_output_size(5, 7, 1, 0), "empty"),
    "pool-padding-too-big": (lambda: ops.max_pool2d(X, 2, padding=2), "half the pooling"),
    "pool-window-huge": (lambda: ops.max_pool2d(X, 10**9, ceil_mode=True), "at most 1024"),
    "model-stride-zero": (lambda: ModelConfig(stride=0), "stride"),
    "model-padding-explodes": (lambda: ModelConfig(padding=100), "padding"),
    "model-filters-huge": (lambda: ModelConfig(filters=10**6), "filters"),
    "model-empty-map": (
        lambda: ModelConfig(filters=(8, 8, 8), kernel_size=7, stride=2, padding=0),
        "block",
    ),
    "model-too-big-to-save": (
        lambda: check_model_size(
            ModelConfig(
                filters=(64, 64, 64), kernel_size=7, padding=3, pooling="none", hidden_units=256
            )
        ),
        "MB|too large|parameters",
    ),  # fmt: skip
    "epochs-absurd": (lambda: TrainConfig(epochs=10**9), "epochs"),
    "epochs-zero": (lambda: TrainConfig(epochs=0), "epochs"),
    "lr-negative": (lambda: TrainConfig(learning_rate=-1.0), "learning rate"),
    "lr-nan": (lambda: TrainConfig(learning_rate=float("nan")), "finite"),
    "lr-huge": (lambda: TrainConfig(learning_rate=1e9), "learning rate"),
    "batch-zero": (lambda: TrainConfig(batch_size=0), "batch size"),
    "batch-absurd": (lambda: TrainConfig(batch_size=10**9), "batch size"),
    "optimizer-unknown": (lambda: TrainConfig(optimizer="__import__('os')"), "optimizer"),
}


@pytest.mark.parametrize("name", sorted(HYPER))
def test_hyperparameters_are_refused_with_a_reason(name):
    """Every bad model or training setting in HYPER is refused (ModelTooLargeError for a model
    too big to save) with a reason."""
    fn, words = HYPER[name]
    error = ModelTooLargeError if name == "model-too-big-to-save" else ValueError
    _expect(fn, error, words)


# ----------------------------------------------------------------------------------------------
# 4. checkpoints (model uploads go through load_compatible)


def _wrong_shape(tensors):
    tensors["stages.conv1.weight"] = torch.zeros(8, 1, 5, 5)


def _nan_weight(tensors):
    tensors["stages.conv1.weight"][0, 0, 0, 0] = float("nan")


def _missing_tensor(tensors):
    tensors.pop("stages.dense.bias")


CHECKPOINTS = {
    "pickle": (lambda: pickle.dumps({"weights": [1, 2, 3]}), "pickle"),
    "torch-save": (lambda: _torch_save_bytes(), "pickle"),
    "truncated": (lambda: _checkpoint()[:-100], "truncated|damaged|not complete|incomplete"),
    "header-only": (lambda: _checkpoint()[:20], "truncated|damaged|not complete|incomplete"),
    "empty": (lambda: b"", "empty"),
    "random-bytes": (lambda: bytes(range(256)) * 10, "not a|safetensors|damaged"),
    "over-size-limit": (lambda: bytes(MAX_BYTES + 1), "MB|too large|larger"),
    "wrong-shapes": (lambda: _tensors_with(_wrong_shape), "shape"),
    "nan-weights": (lambda: _tensors_with(_nan_weight), "NaN"),
    "missing-tensor": (lambda: _tensors_with(_missing_tensor), "missing|dense.bias"),
    "wrong-config": (lambda: _wrong_config(), "config"),
    "wrong-classes": (
        lambda: _checkpoint(ModelConfig(num_classes=3)),
        "3 classes",
    ),
}


def _torch_save_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, buf)
    return buf.getvalue()


def _wrong_config() -> bytes:
    model, metadata = load_checkpoint(_checkpoint())
    metadata = dict(metadata)
    config_key = next(k for k in metadata if "config" in k)
    metadata[config_key] = '{"filters": "lots", "evil": "__import__"}'
    return save_tensors({k: v for k, v in model.state_dict().items()}, metadata=metadata)


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_checkpoints_are_refused_with_a_reason(name):
    """Every hostile or incompatible checkpoint in CHECKPOINTS raises CheckpointError whose text
    says why."""
    make, words = CHECKPOINTS[name]
    data = make()
    _expect(lambda: load_compatible(data, num_classes=10), CheckpointError, words)


# ----------------------------------------------------------------------------------------------
# 5. query parameters, through a fresh app session

DIGIT = load_bundled().test.images[11] / np.float32(255)

QUERY = {
    "type-int": ({"page": "pooling", "pool_row": "three"}, "whole number"),
    "type-float": ({"page": "dense", "softmax_temperature": "warm"}, "not a number"),
    "type-bool": ({"page": "pooling", "pool_all_winners": "perhaps"}, "true or false"),
    "range-high": ({"page": "dense", "softmax_temperature": "1e300"}, "outside"),
    "range-negative": ({"page": "convolution", "conv_channel": "-4"}, "outside"),
    "nan": ({"page": "dense", "softmax_temperature": "nan"}, "not finite"),
    "oversized-image": ({"img": "b" + "A" * 20_000}, "too long"),
    "corrupt-image": ({"img": "bAAAA"}, "img"),
    "oversized-value": ({"page": "dense", "dense_class": "9" * 5000}, "too long"),
    "unknown-keys": ({"page": "draw", "admin": "1", "debug": "true"}, "unknown"),
    "script-key": ({"<img src=x onerror=alert(1)>": "1"}, "unknown"),
    "script-value": ({"page": "<script>alert(1)</script>"}, "no page"),
    "bad-mode": ({"mode": "teacher;drop"}, "only mode"),
}


@pytest.mark.parametrize("name", sorted(QUERY))
def test_query_params_are_ignored_with_a_visible_note(name):
    """A bad query parameter is dropped with an escaped note on the page; the session's input
    and model stay unchanged."""
    params, words = QUERY[name]
    at = open_page(image=DIGIT, query=params)
    notes = "\n".join(w.value for w in at.warning)
    assert "could not be used" in notes and words in notes
    assert "<script>" not in notes and "<img" not in notes and "onerror=" not in notes
    np.testing.assert_array_equal(at.session_state[state.INPUT], DIGIT)  # input unchanged
    assert state.MODEL not in at.session_state or at.session_state[state.MODEL] is None


def test_the_link_reader_never_trusts_a_value_type():
    """links.read drops repeated or empty values with a note each, and Setting.parse strips
    spaces around a number."""
    values, notes = links.read({"pool_row": ["1", "2", "x"], "flat_index": []})
    assert "pool_row" not in values and len(notes) == 2
    assert share.Setting("int", 0, 9).parse("  7 ") == 7


# ----------------------------------------------------------------------------------------------
# 6. the same bad values typed into the pages: a message, no traceback, model and input unchanged


def _conv_page(**preset) -> AppTest:
    """The Convolution page with DIGIT as input and these widget values preset, on the tab that
    holds them (only the open tab is drawn): the kernel editor's or the toy playground's."""
    tab = "Toy playground" if any(k.startswith("conv_toy") for k in preset) else "Kernel editor"
    settings = {"conv_tab": tab, **preset}
    return open_page("app_pages/page_convolution.py", image=DIGIT, settings=settings, check=False)


PAGE_CASES = {
    "kernel-nan": ({"conv_kernel": "0 0 0\n0 nan 0\n0 0 0"}, "NaN"),
    "kernel-inf": ({"conv_kernel": "inf 0 0\n0 1 0\n0 0 0"}, "infinite"),
    "kernel-1e38": ({"conv_kernel": "1e38 0 0\n0 1 0\n0 0 0"}, "within"),
    "kernel-empty": ({"conv_kernel": ""}, "empty"),
    "kernel-script": ({"conv_kernel": "<script>alert(1)</script>"}, "not a number"),
    "toy-kernel-larger-than-input": (
        {"conv_toy_image": "1 0 1\n0 1 0\n1 0 1", "conv_toy_k": 5, "conv_toy_padding": 0},
        "larger than the padded input",
    ),
    "toy-image-nan": ({"conv_toy_image": "1 nan\n0 1"}, "NaN"),
}


@pytest.mark.parametrize("name", sorted(PAGE_CASES))
def test_bad_values_in_the_convolution_page_give_a_message(name):
    """A bad kernel or toy grid preset on the Convolution page shows a message naming the
    problem, with no traceback and no change to input or model."""
    preset, words = PAGE_CASES[name]
    at = _conv_page(**preset)
    assert not at.exception, at.exception
    shown = "\n".join([e.value for e in at.error] + [w.value for w in at.warning])
    assert words in shown, shown
    np.testing.assert_array_equal(at.session_state[state.INPUT], DIGIT)
    assert state.MODEL not in at.session_state or at.session_state[state.MODEL] is None


def test_a_broken_kernel_offers_no_use_in_the_model_button():
    """While the editor's kernel does not parse, the page says why and draws no 'Use in the
    model' button, so the session's model cannot be replaced by it."""
    at = _conv_page(conv_kernel="1 nan 1\n0 1 0\n0 0 0")
    assert not at.exception, at.exception
    assert "NaN" in "\n".join(e.value for e in at.error)
    assert not [b for b in at.button if b.key == "conv_use"]
    assert state.MODEL not in at.session_state or at.session_state[state.MODEL] is None


def test_use_in_the_model_pressed_as_the_kernel_breaks_changes_nothing():
    """The kernel is broken in the same rerun as 'Use in the model' is pressed (the browser
    sends the text and the click together): the callback refuses with the parser's reason,
    and the session's model and input stay as they were."""
    at = _conv_page(conv_kernel="1 0 1\n0 1 0\n0 0 0")
    assert not at.exception, at.exception
    at.text_area(key="conv_kernel").input("1 nan 1\n0 1 0\n0 0 0")
    at.button(key="conv_use").click().run()
    assert not at.exception, at.exception
    shown = "\n".join(e.value for e in at.error)
    assert "The kernel was not put into the model" in shown and "NaN" in shown, shown
    assert state.MODEL not in at.session_state or at.session_state[state.MODEL] is None
    assert state.FILTER_EDIT not in at.session_state
    np.testing.assert_array_equal(at.session_state[state.INPUT], DIGIT)
