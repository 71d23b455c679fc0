"""Tests of cnn_core.snapshots: copies of the weights per epoch, rebuilt models, memory bounds."""

import numpy as np
import pytest
import torch

from cnn_core.data import Split, load_bundled
from cnn_core.model import CNN, ModelConfig
from cnn_core.snapshots import SnapshotLog, model_from_weights, snapshot_weights
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
