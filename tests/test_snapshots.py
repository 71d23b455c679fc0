"""Tests of cnn_core.snapshots: copies of the weights per epoch, rebuilt models, memory bounds,
and a run's history saved as one safetensors file (including the shipped default model's)."""

import io
import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_save

from cnn_core import load_default_model
from cnn_core.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint, metadata_accuracy
from cnn_core.data import Split, load_bundled
from cnn_core.model import CNN, ModelConfig
from cnn_core.snapshots import (
    DEFAULT_HISTORY_PATH,
    MAX_BYTES,
    MAX_COUNT,
    SnapshotLog,
    TrainingHistory,
    load_history,
    model_from_weights,
    save_history,
    snapshot_weights,
)
from cnn_core.train import EpochEvent, TrainConfig, train


def test_snapshot_is_a_copy_not_a_view():
    """Changing the model after a snapshot leaves the snapshot's tensors as they were."""
    model = CNN(ModelConfig(), seed=0)
    weights = snapshot_weights(model)
    before = weights["stages.conv1.weight"].clone()
    with torch.no_grad():
        model.stages["conv1"].weight.add_(1.0)
    assert torch.equal(weights["stages.conv1.weight"], before)


def test_rebuilt_model_has_the_same_weights_and_predictions():
    """model_from_weights gives an eval-mode CNN equal to the original, in its own memory,
    without touching the global RNG."""
    model = CNN(ModelConfig(filters=(4, 8), hidden_units=16), seed=5).eval()
    state = torch.random.get_rng_state()
    rebuilt = model_from_weights(model.config, snapshot_weights(model))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not rebuilt.training and rebuilt.fingerprint() == model.fingerprint()
    image = load_bundled().test.images[0] / np.float32(255)
    np.testing.assert_array_equal(rebuilt.trace(image).logits, model.trace(image).logits)
    with torch.no_grad():
        rebuilt.stages["conv1"].weight.zero_()
    assert model.fingerprint() != rebuilt.fingerprint()  # not sharing memory


def test_weights_of_another_architecture_are_refused():
    """Weights that do not fit the configuration raise ValueError."""
    weights = snapshot_weights(CNN(ModelConfig(filters=(4, 8)), seed=0))
    with pytest.raises(ValueError, match="do not fit"):
        model_from_weights(ModelConfig(), weights)


def test_log_records_epoch_zero_and_every_epoch_of_a_run():
    """Recording before training and at each EpochEvent keeps epochs 0..E; epoch 0 is the
    initial weights and the last is the trained model's."""
    split = load_bundled()
    split = Split(train=split.train.subset(128, seed=0), test=split.test.subset(50, seed=0))
    model = CNN(ModelConfig(filters=(4, 8)), seed=1)
    initial = model.fingerprint()
    log = SnapshotLog()
    log.record(0, model)
    for event in train(model, split, TrainConfig(epochs=2, batch_size=32)):
        if isinstance(event, EpochEvent):
            log.record(event.epoch, model)
    assert log.epochs == [0, 1, 2]
    assert log.model_at(0).fingerprint() == initial
    assert log.model_at(2).fingerprint() == model.fingerprint() != initial
    with pytest.raises(KeyError):
        log.model_at(3)


def test_count_cap_thins_evenly_and_keeps_first_and_last():
    """With at most 5 snapshots, 21 epochs (0-20) are thinned to evenly spaced ones, always
    keeping epoch 0 and the newest."""
    model = CNN(ModelConfig(filters=(2, 2)), seed=0)
    log = SnapshotLog(max_count=5)
    for epoch in range(21):
        log.record(epoch, model)
        assert len(log.snapshots) <= 5 and log.epochs[0] == 0 and log.epochs[-1] == epoch
    gaps = np.diff(log.epochs)
    assert gaps.max() <= 2 * gaps.min(), log.epochs


def test_byte_cap_bounds_memory():
    """The log never holds more than max_bytes; a model whose two snapshots do not fit is not
    recorded at all and the log says so."""
    model = CNN(ModelConfig(), seed=0)  # 9,098 float32 weights: 36,392 bytes
    size = sum(t.numel() * 4 for t in model.state_dict().values())
    log = SnapshotLog(max_bytes=3 * size + 10)
    for epoch in range(6):
        log.record(epoch, model)
        assert log.nbytes <= log.max_bytes
    assert log.epochs[0] == 0 and log.epochs[-1] == 5 and len(log.epochs) == 3
    small = SnapshotLog(max_bytes=size)
    assert not small.record(0, model) and small.too_large and small.epochs == []


def test_default_bounds_hold_a_full_run_of_the_default_model():
    """The defaults keep all 21 snapshots (epochs 0-20) of the default model, under 1 MB."""
    model = CNN(ModelConfig(), seed=0)
    log = SnapshotLog()
    for epoch in range(21):
        log.record(epoch, model)
    assert log.epochs == list(range(21)) and log.nbytes < 1_000_000


def test_one_log_one_architecture():
    """Recording a model of another architecture into a log is an error."""
    log = SnapshotLog()
    log.record(0, CNN(ModelConfig(), seed=0))
    with pytest.raises(ValueError, match="one architecture"):
        log.record(1, CNN(ModelConfig(filters=(4, 8)), seed=0))


# ----------------------------------------------------------------------------------------------
# A run's history as one file

SMALL = ModelConfig(filters=(4, 8))


def _row(epoch: int, accuracy: float = 0.5) -> dict:
    return {
        "epoch": epoch,
        "train_loss": 1.0 / epoch,
        "test_loss": 1.5 / epoch,
        "train_accuracy": accuracy,
        "test_accuracy": accuracy,
        "seconds": 0.25,
    }


@pytest.fixture(scope="module")
def history() -> TrainingHistory:
    """A real 3-epoch run of a small model on 128 digits: its rows and epochs 0-3."""
    split = load_bundled()
    split = Split(train=split.train.subset(128, seed=0), test=split.test.subset(50, seed=0))
    model, rows, log = CNN(SMALL, seed=2), [], SnapshotLog()
    log.record(0, model)
    for event in train(model, split, TrainConfig(epochs=3, batch_size=32)):
        if isinstance(event, EpochEvent):
            rows.append(_row(event.epoch, event.test_accuracy) | {"seconds": event.seconds})
            log.record(event.epoch, model)
    names = tuple(str(d) for d in range(10))
    return TrainingHistory(tuple(rows), log, SMALL, names, {"trained_on": "128 digits"})


def _header(data: bytes) -> tuple[dict, bytes]:
    """(the JSON header of safetensors bytes, the tensor data after it)."""
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _with_metadata(data: bytes, **changes) -> bytes:
    """The same file with some metadata entries replaced (None: removed)."""
    header, rest = _header(data)
    for key, value in changes.items():
        header["__metadata__"].pop(key, None)
        if value is not None:
            header["__metadata__"][key] = value
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + rest


def _raw_history(weights_by_epoch: dict, rows: list, config: ModelConfig = SMALL) -> bytes:
    """A history file written by hand (not through save_history or a SnapshotLog)."""
    tensors = {
        f"epoch_{e}/{n}": t.clone() for e, ws in weights_by_epoch.items() for n, t in ws.items()
    }
    metadata = {
        "format": "convscope-history/1",
        "model_config": json.dumps(config.to_dict()),
        "rows": json.dumps(rows),
        "snapshot_epochs": json.dumps(sorted(weights_by_epoch)),
        "class_names": json.dumps([str(d) for d in range(10)]),
    }
    return safetensors_save(tensors, metadata=metadata)


def test_history_round_trip_keeps_rows_weights_and_config(history, tmp_path):
    """A saved and reloaded history has the same rows, class names, configuration, extras and
    epochs, and every snapshot's tensors equal the saved ones; saving twice gives equal bytes."""
    path = tmp_path / "history.safetensors"
    data = save_history(history, path)
    assert path.read_bytes() == data == save_history(history)
    loaded = load_history(path)
    assert list(loaded.rows) == list(history.rows) and loaded.rows[-1]["epoch"] == 3
    assert loaded.config == SMALL and loaded.class_names == history.class_names
    assert loaded.metadata == {"trained_on": "128 digits"}
    assert loaded.snapshots.epochs == [0, 1, 2, 3] == history.snapshots.epochs
    for saved, read in zip(history.snapshots.snapshots, loaded.snapshots.snapshots, strict=True):
        assert saved.weights.keys() == read.weights.keys() and saved.nbytes == read.nbytes
        assert all(torch.equal(saved.weights[n], read.weights[n]) for n in saved.weights)
    first, last = loaded.snapshots.model_at(0), loaded.snapshots.model_at(3)
    assert first.fingerprint() != last.fingerprint()  # training changed the weights


def test_history_keeps_the_snapshot_logs_thinning():
    """A 60-epoch run recorded into a SnapshotLog is saved and loaded with the log's own
    at most MAX_COUNT evenly thinned epochs, the first and the last kept."""
    model, log = CNN(SMALL, seed=0), SnapshotLog()
    for epoch in range(61):
        log.record(epoch, model)
    names = tuple(str(d) for d in range(10))
    saved = TrainingHistory(tuple(_row(e) for e in range(1, 61)), log, SMALL, names)
    loaded = load_history(save_history(saved))
    assert loaded.snapshots.epochs == log.epochs
    assert len(loaded.snapshots.epochs) == MAX_COUNT
    assert loaded.snapshots.epochs[0] == 0 and loaded.snapshots.epochs[-1] == 60


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "convscope/1"}, "format"),
        ({"rows": "[not json"}, "not valid JSON"),
        ({"rows": None}, "rows"),
        ({"model_config": json.dumps({"filters": [4, 8], "colour": "red"})}, "colour"),
        ({"class_names": json.dumps(["a", "b"])}, "2 classes"),
        ({"snapshot_epochs": json.dumps([0, 1, 3])}, "snapshot_epochs"),
    ],
)
def test_history_with_wrong_metadata_is_refused(history, changes, message):
    """A history whose metadata is missing, not JSON or inconsistent raises ValueError."""
    data = _with_metadata(save_history(history), **changes)
    with pytest.raises(ValueError, match=message):
        load_history(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test_accuracy": 1.5}, "test_accuracy must be a finite number in \\[0, 1\\]"),
        ({"train_loss": float("nan")}, "train_loss"),
        ({"epoch": 7}, "must be epoch 3"),
        ({"epoch": 3.0}, "must be epoch 3"),
        ({"colour": "red"}, "exactly the keys"),
    ],
)
def test_history_with_a_wrong_row_is_refused(history, change, message):
    """A row with a number out of range, a wrong epoch or an unknown key raises ValueError."""
    rows = [dict(r) for r in history.rows]
    rows[-1] |= change
    data = _with_metadata(save_history(history), rows=json.dumps(rows))
    with pytest.raises(ValueError, match=message):
        load_history(data)


def test_history_with_too_many_snapshots_is_refused():
    """More snapshots than a SnapshotLog keeps (MAX_COUNT) raise ValueError, even when they
    are well formed."""
    weights = snapshot_weights(CNN(SMALL, seed=0))
    data = _raw_history({e: weights for e in range(MAX_COUNT + 1)}, [_row(e) for e in range(1, 22)])
    with pytest.raises(ValueError, match=f"at most {MAX_COUNT}"):
        load_history(data)
    ok = _raw_history({e: weights for e in range(MAX_COUNT)}, [_row(e) for e in range(1, 21)])
    assert load_history(ok).snapshots.epochs == list(range(MAX_COUNT))


def test_history_with_wrong_tensors_is_refused():
    """Wrongly shaped, missing, non-float32, badly named tensors and snapshots of epochs that
    have no row raise ValueError naming the problem."""
    good, rows = snapshot_weights(CNN(SMALL, seed=0)), [_row(1)]
    shaped = good | {"stages.conv1.weight": torch.zeros(4, 1, 5, 5)}
    cases = {
        "has shape": {0: good, 1: shaped},
        "lacks weights": {0: good, 1: {k: v for k, v in good.items() if "dense" not in k}},
        "float64": {0: good, 1: good | {"stages.conv1.bias": torch.zeros(4, dtype=torch.float64)}},
        "epochs \\[0, 2\\]": {0: good, 2: good},
    }
    for message, weights in cases.items():
        with pytest.raises(ValueError, match=message):
            load_history(_raw_history(weights, rows))
    unnamed = safetensors_save(
        dict(good), metadata=_header(_raw_history({}, rows))[0]["__metadata__"]
    )
    with pytest.raises(ValueError, match="epoch_<e>"):
        load_history(unnamed)


def test_history_loading_refuses_pickles_and_oversized_files():
    """A torch.save file and a file larger than the snapshot bytes allow are refused unread."""
    buffer = io.BytesIO()
    torch.save({"rows": []}, buffer)
    with pytest.raises(ValueError, match="pickle|zip"):
        load_history(buffer.getvalue())
    with pytest.raises(ValueError, match="larger than"):
        load_history(b"\0" * (2 * MAX_BYTES))


def test_saving_an_inconsistent_history_is_refused(history):
    """save_history refuses class names of the wrong count and snapshots of another model."""
    with pytest.raises(ValueError, match="class name"):
        save_history(TrainingHistory(history.rows, history.snapshots, SMALL, ("0", "1")))
    with pytest.raises(ValueError, match="another architecture"):
        save_history(TrainingHistory(history.rows, history.snapshots, ModelConfig(), ("0",) * 10))


@pytest.mark.skipif(
    not DEFAULT_HISTORY_PATH.is_file(),
    reason="assets/default_history.safetensors is not built: run scripts/train_default_model.py",
)
def test_shipped_default_history_belongs_to_the_default_model():
    """assets/default_history.safetensors loads; its last snapshot is the shipped model's weights,
    its epoch-0 snapshot the initial weights of the script's seed, its last row's held-out
    accuracy the one the model file claims, and it has a row per trained epoch."""
    shipped = load_history(DEFAULT_HISTORY_PATH)
    _, metadata = load_checkpoint(DEFAULT_MODEL_PATH)
    log, default = shipped.snapshots, load_default_model()
    assert shipped.config == default.config and 2 <= len(log.epochs) <= MAX_COUNT
    assert log.epochs[0] == 0 and log.epochs[-1] == len(shipped.rows) == int(metadata["epochs"])
    final = log.snapshots[-1].weights
    assert final.keys() == default.state_dict().keys()
    assert all(torch.equal(final[n], t) for n, t in default.state_dict().items())
    initial = CNN(default.config, seed=int(metadata["seed"])).state_dict()
    assert all(torch.equal(log.snapshots[0].weights[n], t) for n, t in initial.items())
    claimed = metadata_accuracy(metadata)
    assert shipped.rows[-1]["test_accuracy"] == pytest.approx(claimed, abs=5e-5)
