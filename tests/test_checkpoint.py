"""Tests of cnn_core.checkpoint: safetensors round trips, one error type for every malformed
file (never unpickling anything), the bundled default model and the unsafe-environment guard."""

from __future__ import annotations

import io
import json
import pickle
import re
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_save

from cnn_core.checkpoint import (
    DEFAULT_MODEL_PATH,
    FORMAT,
    UNSAFE_ENV,
    CheckpointError,
    check_safe_environment,
    load_checkpoint,
    load_default_model,
    save_checkpoint,
)
from cnn_core.data import load_bundled
from cnn_core.model import CNN, ModelConfig
from cnn_core.train import evaluate

CONFIG = ModelConfig(
    filters=(4, 6, 5), kernel_size=(5, 3, 3), activation="leaky_relu", hidden_units=12
)


@pytest.fixture
def model() -> CNN:
    """A non-default architecture, so the config really has to come from the file."""
    return CNN(CONFIG, seed=7)


def tensors_and_metadata(model: CNN) -> tuple[dict, dict]:
    """What save_checkpoint stores, for building broken files by hand."""
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    return tensors, {"format": FORMAT, "model_config": json.dumps(model.config.to_dict())}


def test_round_trip_bytes_and_file(model, tmp_path):
    """Saved and loaded (from bytes and from a file), the model has the same config, every weight
    equal, the same trace, eval mode, and the extra metadata as strings."""
    image = load_bundled().test.as_float()[0]  # (28, 28)
    path = tmp_path / "m.safetensors"
    data = save_checkpoint(model, path, extra_metadata={"trained_on": "x", "test_accuracy": 0.9})
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left
    assert path.stat().st_mode & 0o777 == 0o644  # readable by a server running as another user
    for source in (data, path, str(path), bytearray(data)):
        loaded, metadata = load_checkpoint(source)
        assert loaded.config == CONFIG and not loaded.training
        for name, tensor in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], tensor)
        a, b = model.trace(image), loaded.trace(image)
        for sa, sb in zip(a.stages, b.stages, strict=True):
            assert sa.name == sb.name and np.array_equal(sa.output, sb.output)
        assert metadata["trained_on"] == "x" and metadata["test_accuracy"] == "0.9"
        assert metadata["format"] == FORMAT


def test_loaded_model_is_trainable_and_rng_untouched(model):
    """A loaded model owns writable parameters that require grad, and loading does not draw from
    the process-wide torch RNG."""
    before = torch.get_rng_state()
    loaded, _ = load_checkpoint(save_checkpoint(model))
    assert torch.equal(before, torch.get_rng_state())
    loaded(torch.rand(2, 1, 28, 28)).sum().backward()
    torch.optim.SGD(loaded.parameters(), lr=0.1).step()
    assert all(p.requires_grad and p.grad is not None for p in loaded.parameters())


def test_saved_bytes_are_canonical(model):
    """The metadata keys are written in sorted order (safetensors' own order varies from one
    process to the next), so the same model always gives the same bytes."""
    data = save_checkpoint(model, extra_metadata={"z": "1", "a": "2", "m": "3"})
    (length,) = struct.unpack("<Q", data[:8])
    keys = list(json.loads(data[8 : 8 + length])["__metadata__"])
    assert keys == sorted(keys) and length % 8 == 0
    assert save_checkpoint(model, extra_metadata={"m": "3", "a": "2", "z": "1"}) == data


def test_reserved_metadata_key_is_refused(model):
    """extra_metadata cannot overwrite the stored config or format."""
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(model, extra_metadata={"model_config": "{}"})


def broken_files(model: CNN) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, expected message fragment) for every kind of malformed file."""
    tensors, meta = tensors_and_metadata(model)
    good = save_checkpoint(model)
    zip_file = io.BytesIO()
    torch.save(model.state_dict(), zip_file)
    config = model.config.to_dict()

    def with_tensor(name, value):
        return safetensors_save({**tensors, name: value}, metadata=meta)

    def with_config(text):
        return safetensors_save(tensors, metadata={**meta, "model_config": text})

    weight = "stages.conv1.weight"
    return {
        "empty": (b"", "empty"),
        "torch.save zip": (zip_file.getvalue(), "torch.save"),
        "raw pickle": (pickle.dumps({"weight": [1.0, 2.0]}), "pickle"),
        "text": (b"definitely not a model file", "not a safetensors file"),
        "truncated header": (good[:50], "truncated"),
        "truncated data": (good[:-100], "truncated"),
        "trailing bytes": (good + b"\0" * 8, "unexpected bytes"),
        "wrong shape": (with_tensor(weight, torch.zeros(4, 1, 3, 3)), "has shape (4, 1, 3, 3)"),
        "wrong dtype": (with_tensor(weight, tensors[weight].double()), "torch.float64"),
        "extra tensor": (with_tensor("stages.extra.weight", torch.zeros(2)), "does not use"),
        "missing tensor": (
            safetensors_save({k: v for k, v in tensors.items() if k != weight}, metadata=meta),
            "lacks weights",
        ),
        "NaN weight": (with_tensor(weight, torch.full_like(tensors[weight], np.nan)), "NaN"),
        "inf weight": (with_tensor(weight, torch.full_like(tensors[weight], np.inf)), "infinite"),
        "bad config JSON": (with_config("{filters: 8"), "not valid JSON"),
        "unknown config field": (with_config(json.dumps({**config, "colour": 1})), "colour"),
        "invalid config": (with_config(json.dumps({**config, "pooling": "median"})), "pooling"),
        "config not an object": (with_config("[8, 16]"), "JSON object"),
        "no config": (safetensors_save(tensors, metadata={"format": FORMAT}), 'no "model_config'),
        "not ConvScope": (safetensors_save(tensors), "not a ConvScope checkpoint"),
    }


BROKEN = [
    "empty", "torch.save zip", "raw pickle", "text", "truncated header", "truncated data",
    "trailing bytes", "wrong shape", "wrong dtype", "extra tensor", "missing tensor",
    "NaN weight", "inf weight", "bad config JSON", "unknown config field", "invalid config",
    "config not an object", "no config", "not ConvScope",
]  # fmt: skip


@pytest.mark.parametrize("case", BROKEN)
def test_malformed_files_raise_checkpoint_error(model, case):
    """Each malformed file raises CheckpointError (a ValueError) with a sentence naming the
    problem; pickles and torch.save files are recognised and never unpickled."""
    data, fragment = broken_files(model)[case]
    with pytest.raises(CheckpointError, match=re.escape(fragment)) as info:
        load_checkpoint(data)
    assert isinstance(info.value, ValueError) and len(str(info.value)) > 20


def test_broken_cases_are_all_listed(model):
    """The parametrised list covers every case that broken_files builds."""
    assert sorted(BROKEN) == sorted(broken_files(model))


def test_too_large_bytes_and_file(model, tmp_path):
    """Input over max_bytes is refused before it is parsed, as bytes and as a file."""
    data = save_checkpoint(model)
    with pytest.raises(CheckpointError, match="larger than"):
        load_checkpoint(data, max_bytes=len(data) - 1)
    path = tmp_path / "big.safetensors"
    path.write_bytes(b"\0" * 6_000_000)
    with pytest.raises(CheckpointError, match="larger than 5 MB"):
        load_checkpoint(path)


def test_missing_path_and_wrong_type():
    """A path that does not exist and an argument that is neither path nor bytes are refused."""
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint("/nonexistent/model.safetensors")
    with pytest.raises(CheckpointError, match="path or as bytes"):
        load_checkpoint(12345)


def test_default_model_loads_in_eval_mode_and_is_accurate():
    """The bundled default model is the default ModelConfig, is in eval mode, is cached (the
    same object each time), and classifies at least 97% of the held-out digits correctly."""
    assert DEFAULT_MODEL_PATH.is_file()
    model = load_default_model()
    assert model is load_default_model()
    assert model.config == ModelConfig() and not model.training
    assert evaluate(model, load_bundled().test).accuracy >= 0.97
    _, metadata = load_checkpoint(DEFAULT_MODEL_PATH)
    assert float(metadata["test_accuracy"]) >= 0.97 and "4,000" in metadata["trained_on"]


@pytest.mark.parametrize("value", ["1", "true", "YES", "anything"])
def test_unsafe_environment_is_refused(monkeypatch, value):
    """With TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD set to a truthy value, loading the default model
    raises RuntimeError naming the variable."""
    monkeypatch.setenv(UNSAFE_ENV, value)
    with pytest.raises(RuntimeError, match=UNSAFE_ENV):
        load_default_model()


@pytest.mark.parametrize("value", ["", "0", "false", "No"])
def test_falsy_environment_value_is_accepted(monkeypatch, value):
    """A falsy value of the variable (or none) does not stop the app."""
    monkeypatch.setenv(UNSAFE_ENV, value)
    check_safe_environment()
    monkeypatch.delenv(UNSAFE_ENV)
    check_safe_environment()


def test_batch_norm_running_statistics_round_trip():
    """A batch-norm model's running mean, variance and step count (buffers, not parameters) are
    saved and loaded with the weights: the loaded model has the same state dict and trace."""
    model = CNN(ModelConfig(filters=(3, 4), batch_norm=True), seed=2)
    model.train()
    with torch.no_grad():
        for _ in range(2):  # two training-mode passes move the running statistics
            model(torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(3)))
    model.eval()
    loaded, _ = load_checkpoint(save_checkpoint(model))
    assert loaded.config.batch_norm
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert int(loaded.stages["norm2"].num_batches_tracked) == 2
    assert not torch.allclose(loaded.stages["norm1"].running_var, torch.ones(3))
    image = load_bundled().test.as_float()[1]
    np.testing.assert_array_equal(model.trace(image).logits, loaded.trace(image).logits)


def test_a_checkpoint_saved_before_batch_norm_existed_loads_without_it():
    """The shipped default model's file predates the batch_norm field (its stored configuration
    has no such key): it loads as a model without norm stages."""
    with open(DEFAULT_MODEL_PATH, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        stored = json.loads(json.loads(f.read(length))["__metadata__"]["model_config"])
    assert "batch_norm" not in stored
    model, _ = load_checkpoint(DEFAULT_MODEL_PATH)
    assert not model.config.batch_norm
    assert not any(kind == "norm" for kind in model.kinds.values())
