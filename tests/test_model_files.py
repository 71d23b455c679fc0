"""Model files: the checkpoint helpers for uploads (cnn_core.checkpoint), ui.model_files'
validation, and the sidebar's download / upload in AppTest. A refused file never changes the
session's model."""

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_save
from streamlit.testing.v1 import AppTest

from cnn_core import CNN, ModelConfig
from cnn_core.checkpoint import (
    FORMAT,
    MAX_BYTES,
    CheckpointError,
    check_compatible,
    load_compatible,
    metadata_accuracy,
    save_checkpoint,
)
from cnn_core.data import CLASS_NAMES, load_bundled
from ui import model_files, state

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SMALL = ModelConfig(filters=(4, 8))


@pytest.fixture(scope="module")
def small_model() -> CNN:
    return CNN(SMALL, seed=7).eval()


def _info(model: CNN, accuracy=0.5) -> state.ModelInfo:
    return state.ModelInfo.own(model, "a test", accuracy, tuple(str(d) for d in range(10)))


def _wrong_shapes() -> bytes:
    """A ConvScope header whose config says 8 and 16 filters, holding a 4/8-filter model."""
    tensors = {k: v.contiguous() for k, v in CNN(SMALL, seed=0).state_dict().items()}
    metadata = {"format": FORMAT, "model_config": json.dumps(ModelConfig().to_dict())}
    return safetensors_save(tensors, metadata=metadata)


def _torch_save(model: CNN) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _too_large() -> bytes:
    """A real checkpoint over the 5 MB limit (3.2 million weights)."""
    big = CNN(ModelConfig(filters=(16,), pooling="none", hidden_units=256), seed=0)
    data = save_checkpoint(big)
    assert len(data) > MAX_BYTES
    return data


REFUSED = {
    "pickle": (lambda m: pickle.dumps({"weights": [1, 2, 3]}), "pickle"),
    "torch.save": (_torch_save, "torch.save"),
    "wrong shapes": (lambda m: _wrong_shapes(), "shape"),
    "truncated": (lambda m: save_checkpoint(m)[:-100], "truncated"),
    "too large": (lambda m: _too_large(), "larger than 5 MB"),
    "empty": (lambda m: b"", "empty"),
    "not a model": (lambda m: b"hello world, not a model at all", "not a safetensors"),
}


# ----------------------------------------------------------------------------------------------
# cnn_core.checkpoint helpers


def test_metadata_accuracy_accepts_only_numbers_in_0_1():
    """A claimed accuracy is used only if it is a JSON number in [0, 1]."""
    assert metadata_accuracy({"test_accuracy": "0.974"}) == pytest.approx(0.974)
    assert metadata_accuracy({"test_accuracy": "1"}) == 1.0
    for bad in ("1.5", "-0.1", "NaN", "true", '"0.9"', "[0.9]", "ninety"):
        assert metadata_accuracy({"test_accuracy": bad}) is None, bad
    assert metadata_accuracy({}) is None


def test_check_compatible_refuses_other_inputs_and_classes():
    """Models for other image sizes, channels or class counts cannot run on the app's inputs."""
    check_compatible(ModelConfig())
    with pytest.raises(CheckpointError, match="32x32"):
        check_compatible(ModelConfig(input_size=32))
    with pytest.raises(CheckpointError, match="3-channel"):
        check_compatible(ModelConfig(in_channels=3))
    with pytest.raises(CheckpointError, match="5 classes"):
        check_compatible(ModelConfig(num_classes=5))


def test_load_compatible_round_trips(small_model):
    """load_compatible on save_checkpoint bytes gives the same weights and metadata."""
    model, meta = load_compatible(save_checkpoint(small_model, extra_metadata={"x": "y"}))
    assert model.fingerprint() == small_model.fingerprint() and meta["x"] == "y"
    other = save_checkpoint(CNN(ModelConfig(input_size=32), seed=0))
    with pytest.raises(CheckpointError, match="32x32"):
        load_compatible(other)


# ----------------------------------------------------------------------------------------------
# ui.model_files validation


def test_valid_file_round_trips(small_model):
    """Downloaded bytes, uploaded again, give the same weights, predictions, accuracy and
    class names; the file name shown is made safe."""
    data = model_files.model_bytes(_info(small_model, 0.625))
    info = model_files.model_from_upload(data, "my [model](http://x).safetensors")
    assert info.model.fingerprint() == small_model.fingerprint() and not info.is_default
    image = load_bundled().test.images[0] / np.float32(255)
    np.testing.assert_array_equal(info.model.trace(image).logits, small_model.trace(image).logits)
    assert info.test_accuracy == pytest.approx(0.625)
    assert info.class_names == tuple("0123456789")
    # One sanitiser for every untrusted name (share.safe_name): a markdown character becomes '?'
    # (it was '_' for file names, runs of them one '_'), so the card shows the same as a link note.
    assert info.trained_on == "uploaded file my ?model??http???x?.safetensors"
    assert info.model is not small_model


def test_model_records_name_their_origin(small_model):
    """Each ModelInfo constructor stamps its origin into the version; origin and fingerprint read
    it back (the model card's fingerprint is the weights' digest); an unknown origin is refused."""
    m, names = small_model, tuple("0123456789")
    made = {
        "default": state.ModelInfo.default(m, "digits", 0.9),
        "own": state.ModelInfo.own(m, "digits", 0.9, names),
        "upload": state.ModelInfo.uploaded(m, "f.safetensors", 0.9, names),
        "edited": state.ModelInfo.edited(m, "digits; conv1 filter 0 replaced", names),
        "live": state.ModelInfo.live_copy(m, "7:3", "epoch 1, batch 3", names),
    }
    assert tuple(made) == state.ORIGINS
    for origin, info in made.items():
        assert (info.origin, info.fingerprint) == (origin, m.fingerprint())
        assert info.is_default == (origin == "default")
    assert made["upload"].trained_on == "uploaded file f.safetensors"
    assert made["edited"].test_accuracy is None and made["live"].live == "epoch 1, batch 3"
    assert made["live"].version != state.ModelInfo.live_copy(m, "7:4", "", names).version
    with pytest.raises(ValueError, match="unknown model origin"):
        state.model_version("stolen", m)


def test_missing_or_insane_accuracy_is_measured(small_model):
    """Without a sane accuracy in the file, the held-out accuracy is measured."""
    from cnn_core.train import evaluate

    expected = evaluate(small_model, load_bundled().test).accuracy
    for extra in ({}, {"test_accuracy": 7.5}):
        info = model_files.model_from_upload(
            save_checkpoint(small_model, extra_metadata=extra), "m"
        )
        assert info.test_accuracy == pytest.approx(expected)


def test_class_names_from_the_file_must_be_plain(small_model):
    """Plain class names are kept; markdown or the wrong count falls back to the digits."""
    names = ["tshirt", "trouser", "pullover", "dress", "coat"] + list("56789")
    ok = save_checkpoint(small_model, extra_metadata={"class_names": names})
    assert model_files.model_from_upload(ok, "f").class_names == tuple(names)
    bad = save_checkpoint(small_model, extra_metadata={"class_names": ["**a**"] * 10})
    assert model_files.model_from_upload(bad, "f").class_names == tuple("0123456789")


def test_a_fashion_mnist_model_keeps_its_class_names_through_a_file(small_model):
    """Every Fashion-MNIST class name ("T-shirt/top" included) survives download and upload,
    so the pages still speak of clothes."""
    names = list(CLASS_NAMES["fashion-mnist"])
    data = save_checkpoint(small_model, extra_metadata={"class_names": names})
    assert model_files.model_from_upload(data, "f").class_names == tuple(names)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_files_are_refused(small_model, case):
    """Pickles, torch.save files, wrong shapes, truncated, oversized and junk files raise
    CheckpointError with a sentence that says why."""
    make, words = REFUSED[case]
    with pytest.raises(CheckpointError, match=words):
        model_files.model_from_upload(make(small_model), "x.safetensors")


# ----------------------------------------------------------------------------------------------
# AppTest: the sidebar's Model file expander


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=model_files.UPLOAD_KEY).upload(name, data).run()
    assert not at.exception, at.exception
    return at


def test_upload_in_the_app_uses_the_model_once(small_model):
    """An uploaded valid file becomes this session's model (model card says so); after Reset
    the same file, still in the uploader, is not applied again."""
    at = _app()
    assert at.get("download_button"), "no download button in the sidebar"
    _upload(at, "mine.safetensors", model_files.model_bytes(_info(small_model)))
    info = at.session_state[state.MODEL]
    assert info.model.fingerprint() == small_model.fingerprint()
    assert any("Now using the model from mine.safetensors" in s.value for s in at.success)
    card = "\n".join(m.value for m in at.sidebar.markdown)
    assert "uploaded file mine.safetensors" in card
    at.sidebar.button(key="reset_button").click().run()
    at.run()
    assert at.session_state[state.MODEL] is None


@pytest.mark.parametrize("case", ["pickle", "torch.save", "wrong shapes", "truncated"])
def test_refused_upload_keeps_the_model(small_model, case):
    """After a good upload, a bad file shows an error and the session keeps the good model."""
    at = _app()
    _upload(at, "good.safetensors", model_files.model_bytes(_info(small_model)))
    good = at.session_state[state.MODEL]
    _upload(at, "bad.safetensors", REFUSED[case][0](small_model))
    errors = [e.value for e in at.error]
    assert any("This file was refused, your model is unchanged" in e for e in errors), errors
    assert at.session_state[state.MODEL] is good


def test_oversized_upload_is_refused_in_the_app():
    """A file over the limit is refused and the default model stays."""
    at = _upload(_app(), "big.safetensors", _too_large())
    assert any("larger than 5 MB" in e.value for e in at.error)
    assert state.MODEL not in at.session_state or at.session_state[state.MODEL] is None
