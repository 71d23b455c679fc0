"""Tests of cnn_core.train: the training generator, divergence, determinism, evaluation and
augmentation. Tiny subsets of the bundled digits and 1-3 epochs keep the module fast."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core.data import Split, load_bundled
from cnn_core.model import CNN, ModelConfig
from cnn_core.train import (
    BatchEvent,
    DivergedEvent,
    DoneEvent,
    EpochEvent,
    StepEvent,
    StoppedEvent,
    TrainConfig,
    TrainControl,
    augment_batch,
    confusion_matrix,
    evaluate,
    gradient_norm,
    learning_rate_at,
    make_optimizer,
    train,
    train_step,
    weights_finite,
)


@pytest.fixture(scope="module")
def small_split() -> Split:
    """256 training and 200 test digits from the bundled set."""
    split = load_bundled()
    return Split(train=split.train.subset(256, seed=1), test=split.test.subset(200, seed=2))


def weights(model) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def run(model, split, **config) -> list:
    """Every event of a training run."""
    return list(train(model, split, TrainConfig(**config)))


def test_loss_falls_within_a_few_steps(small_split):
    """Ten Adam steps on one fixed batch lower its loss from about ln 10 (chance) by over 0.3."""
    model = CNN(ModelConfig(), seed=0)
    optimizer = make_optimizer(model, TrainConfig(learning_rate=3e-3))
    x = torch.from_numpy(small_split.train.as_float()[:64]).unsqueeze(1)  # (64, 1, 28, 28)
    y = torch.from_numpy(np.array(small_split.train.labels[:64]))  # (64,)
    losses = [train_step(model, optimizer, x, y)[0].item() for _ in range(10)]
    assert losses[0] == pytest.approx(math.log(10), abs=0.3)  # about uniform at the start
    assert losses[5] < losses[0] and losses[-1] < losses[0] - 0.3


def test_training_improves_epoch_metrics(small_split):
    """Over three epochs on 256 images the training loss falls and test accuracy beats chance."""
    model = CNN(ModelConfig(), seed=0)
    events = run(model, small_split, epochs=3, learning_rate=3e-3, batch_size=32)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert epochs[-1].test_accuracy > 0.5


def test_event_sequence_and_counters(small_split):
    """Batch events come every report_every batches and at each epoch's end, images_seen counts
    every image, the run ends with one DoneEvent, and the model is left in eval mode."""
    model = CNN(ModelConfig(), seed=0)
    events = run(model, small_split, epochs=2, batch_size=100, report_every=2)
    batches = [(e.epoch, e.batch) for e in events if isinstance(e, BatchEvent)]
    assert batches == [(1, 2), (1, 3), (2, 2), (2, 3)]  # 256 images -> 3 batches, last has 56
    last_batch = [e for e in events if isinstance(e, BatchEvent)][-1]
    assert last_batch.images_seen == 2 * 256 and last_batch.num_batches == 3
    assert 0 <= last_batch.accuracy <= 1 and last_batch.images_per_second > 0
    assert events[-1] == DoneEvent(epochs_completed=2)
    assert not model.training


def test_gradients_do_not_accumulate(small_split):
    """The gradient the model holds after step 2 equals a fresh gradient computed at the weights
    left by step 1 -- not the sum of both steps' gradients."""
    model = CNN(ModelConfig(), seed=0)
    config = TrainConfig(
        optimizer="sgd", learning_rate=0.1, momentum=0.0, batch_size=256, epochs=2, report_every=1
    )
    after_step = []
    for event in train(model, small_split, config):
        if isinstance(event, BatchEvent):
            after_step.append(weights(model))
            if event.epoch == 2:  # the one batch is the whole set, so only the order differs
                held = {n: p.grad.clone() for n, p in model.named_parameters()}
    fresh = CNN(ModelConfig(), seed=None)
    fresh.load_state_dict(after_step[0])
    x = torch.from_numpy(small_split.train.as_float()).unsqueeze(1)  # (256, 1, 28, 28)
    F.cross_entropy(fresh(x), torch.from_numpy(np.array(small_split.train.labels))).backward()
    for name, p in fresh.named_parameters():
        torch.testing.assert_close(held[name], p.grad, rtol=1e-4, atol=1e-6)


def test_divergence_threshold_rolls_back_to_initial_weights(small_split):
    """A loss above divergence_threshold in epoch 1 ends the run with a DivergedEvent whose reason
    names the loss, threshold, place and learning rate, and restores the initial weights."""
    model = CNN(ModelConfig(), seed=0)
    initial = weights(model)
    events = run(model, small_split, epochs=2, divergence_threshold=0.5, learning_rate=0.002)
    diverged = events[-1]
    assert isinstance(diverged, DivergedEvent) and diverged.restored
    assert (diverged.epoch, diverged.batch) == (1, 1)
    assert "over 0.5" in diverged.reason and "epoch 1, batch 1" in diverged.reason
    assert "learning rate 0.002" in diverged.reason
    assert same_weights(weights(model), initial)
    assert not model.training


def test_huge_learning_rate_diverges_and_restores_last_good_weights(small_split):
    """Adam with learning rate 10 blows up (a loss of about 1e7, not NaN); the model ends with
    the finite weights it had at the start of the epoch in which that happened. (SGD at 10 does
    not blow up here: its ReLUs die and the loss settles near ln 10.)"""
    model = CNN(ModelConfig(), seed=0)
    config = TrainConfig(optimizer="adam", learning_rate=10.0, epochs=5, batch_size=32)
    start_of_epoch = weights(model)
    events = []
    for event in train(model, small_split, config):
        events.append(event)
        if isinstance(event, EpochEvent):
            start_of_epoch = weights(model)
    assert isinstance(events[-1], DivergedEvent) and events[-1].restored
    assert "too high" in events[-1].reason
    assert same_weights(weights(model), start_of_epoch)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_same_seed_same_weights_different_seed_different(small_split):
    """With augmentation and dropout on, two runs with one seed give identical weights; another
    seed gives different weights (shuffling, augmentation and dropout follow the seed)."""
    config = ModelConfig(hidden_units=16, dropout=0.3)

    def trained(seed: int) -> dict:
        model = CNN(config, seed=0)
        run(model, small_split, epochs=1, augment=True, seed=seed, batch_size=64)
        return weights(model)

    assert same_weights(trained(3), trained(3))
    assert not same_weights(trained(3), trained(4))


def test_closing_mid_epoch_keeps_last_step(small_split):
    """Closing the generator after the third step leaves exactly that step's finite weights, in
    eval mode: no further step runs."""
    model = CNN(ModelConfig(), seed=0)
    events = train(model, small_split, TrainConfig(epochs=2, batch_size=16, report_every=1))
    for event in events:
        if isinstance(event, BatchEvent) and event.batch == 3:
            snapshot = weights(model)
            assert model.training
            break
    events.close()
    assert same_weights(weights(model), snapshot)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not model.training


def test_max_seconds_stops_after_a_step(small_split):
    """A tiny time limit ends the run with a StoppedEvent after the first step."""
    model = CNN(ModelConfig(), seed=0)
    events = run(model, small_split, epochs=3, max_seconds=1e-9, batch_size=32)
    assert isinstance(events[-1], StoppedEvent) and "time limit" in events[-1].reason
    assert not any(isinstance(e, EpochEvent) for e in events)
    assert not model.training


def test_max_images_caps_the_training_set(small_split):
    """max_images=50 trains on 50 images per epoch."""
    model = CNN(ModelConfig(), seed=0)
    events = run(model, small_split, epochs=1, max_images=50, batch_size=20)
    assert [e for e in events if isinstance(e, BatchEvent)][-1].images_seen == 50


def test_global_rng_is_untouched(small_split):
    """train() and augmentation draw from their own generator: the process-wide torch RNG state
    is the same before and after a run with shuffling, augmentation and dropout."""
    before = torch.get_rng_state()
    model = CNN(ModelConfig(hidden_units=8, dropout=0.2), seed=0)
    run(model, small_split, epochs=1, augment=True, batch_size=64)
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"optimizer": "rmsprop"}, "optimizer must be one of adam, sgd"),
        ({"learning_rate": 0}, "learning rate must be more than 0 and at most 10, got 0"),
        ({"learning_rate": 11}, "learning rate must be more than 0 and at most 10"),
        ({"learning_rate": float("nan")}, "learning rate must be a finite number"),
        ({"learning_rate": "0.1"}, "learning rate must be a number"),
        ({"momentum": 1.0}, "momentum must be between 0 and 0.99"),
        ({"batch_size": 0}, "batch size must be between 1 and 1024"),
        ({"batch_size": 2.5}, "batch size must be a whole number"),
        ({"epochs": 101}, "epochs must be between 1 and 100"),
        ({"epochs": True}, "epochs must be a whole number"),
        ({"seed": -1}, "seed must be between 0 and"),
        ({"max_images": 0}, "max_images must be between 1 and"),
        ({"report_every": 0}, "report_every must be between 1 and"),
        ({"divergence_threshold": 0}, "divergence threshold must be more than 0"),
        ({"max_seconds": -1}, "max_seconds must be more than 0"),
        ({"augment": "yes"}, "augment must be True or False"),
        ({"lr_schedule": "step"}, "lr_schedule must be one of constant, cosine"),
    ],
)
def test_train_config_rejects_bad_values(fields, message):
    """Every out-of-range or wrongly typed TrainConfig field raises ValueError with a sentence."""
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)


def test_cosine_schedule():
    """The cosine schedule starts at the learning rate, is halved at mid-run and nears 0."""
    config = TrainConfig(learning_rate=0.01, lr_schedule="cosine")
    assert learning_rate_at(config, 0, 100) == pytest.approx(0.01)
    assert learning_rate_at(config, 50, 100) == pytest.approx(0.005)
    assert learning_rate_at(config, 99, 100) < 1e-5
    assert learning_rate_at(TrainConfig(learning_rate=0.01), 99, 100) == 0.01


def test_onecycle_schedule_warms_up_then_anneals():
    """onecycle rises linearly over the first 20 of 100 steps (step 0 at lr/20), peaks at the
    learning rate at step 19, is half of it halfway down the cosine (step 60) and nears 0."""
    config = TrainConfig(learning_rate=0.01, lr_schedule="onecycle")
    rates = [learning_rate_at(config, step, 100) for step in range(100)]
    assert rates[0] == pytest.approx(0.0005)
    assert rates[19] == pytest.approx(0.01) == max(rates)
    assert all(a < b for a, b in zip(rates[:19], rates[1:20], strict=True))
    assert all(a > b for a, b in zip(rates[20:-1], rates[21:], strict=True))
    assert rates[60] == pytest.approx(0.005)
    assert rates[99] < 1e-5


def test_evaluate_confusion_and_mode(small_split):
    """evaluate() gives a confusion matrix summing to N whose diagonal matches the accuracy,
    probabilities that sum to 1, and leaves a training-mode module in training mode."""
    model = CNN(ModelConfig(), seed=0).train()
    result = evaluate(model, small_split.test, batch_size=64)
    n = len(small_split.test)
    assert result.confusion.shape == (10, 10) and result.confusion.sum() == n
    assert np.trace(result.confusion) / n == pytest.approx(result.accuracy)
    assert result.probabilities.shape == (n, 10) and result.probabilities.dtype == np.float32
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(result.predictions, result.probabilities.argmax(axis=1))
    assert np.isfinite(result.loss) and model.training
    evaluate(model.eval(), small_split.test)
    assert not model.training


def test_confusion_matrix_rows_are_true_classes():
    """Entry [t, p] counts images of true class t predicted as p."""
    matrix = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 0]])


def test_augmentation_keeps_shape_and_range(small_split):
    """Augmented batches keep their shape and [0, 1] range, change the images, and repeat
    exactly for the same generator seed."""
    x = torch.from_numpy(small_split.train.as_float()[:32]).unsqueeze(1)  # (32, 1, 28, 28)
    a = augment_batch(x, torch.Generator().manual_seed(5))
    b = augment_batch(x, torch.Generator().manual_seed(5))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert (a.sum(dim=(1, 2, 3)) > 0).all()  # no digit is pushed out of the frame


def test_train_refuses_non_finite_model(small_split):
    """A model whose weights already hold NaN is refused before any step."""
    model = CNN(ModelConfig(), seed=0)
    with torch.no_grad():
        model.stages["dense"].bias[0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        run(copy.deepcopy(model), small_split, epochs=1)


def _recorded_steps(model, split, config, steps: int) -> list:
    """The StepEvents of the first ``steps`` steps, each asked for through a TrainControl."""
    control, found = TrainControl(record_next_step=True), []
    events = train(model, split, config, control)
    for event in events:
        if isinstance(event, StepEvent):
            found.append(event)
            if len(found) == steps:
                break
            control.record_next_step = True
    events.close()
    return found


def test_a_recorded_adam_step_equals_torch_adam(small_split):
    """The first step's numbers, recorded by train(): the gradients equal torch.autograd.grad
    of the batch's loss at the initial weights, and the weights after equal a fresh
    torch.optim.Adam's step from the same weights and gradients (atol 1e-7); before + update
    equals after (atol 1e-7)."""
    model = CNN(ModelConfig(), seed=0)
    config = TrainConfig(learning_rate=3e-3, batch_size=32, epochs=1, report_every=1)
    (step,) = _recorded_steps(model, small_split, config, 1)
    twin = CNN(ModelConfig(), seed=0)  # the same initial weights, stepped by hand
    params = dict(twin.named_parameters())
    x, y = torch.from_numpy(step.images).unsqueeze(1), torch.from_numpy(step.labels)
    grads = torch.autograd.grad(F.cross_entropy(twin(x), y), list(params.values()))
    optimizer = torch.optim.Adam(params.values(), lr=3e-3)
    for (name, p), g in zip(params.items(), grads, strict=True):
        np.testing.assert_allclose(step.gradients[name], g.numpy(), atol=1e-7)
        p.grad = g
    optimizer.step()
    for name, p in params.items():
        np.testing.assert_allclose(step.weights_after[name], p.detach().numpy(), atol=1e-7)
        moved = step.weights_before[name] + step.update[name]
        np.testing.assert_allclose(moved, step.weights_after[name], atol=1e-7)
    assert step.optimizer == "adam" and step.learning_rate == 3e-3


def test_a_recorded_sgd_update_is_minus_lr_times_the_velocity(small_split):
    """SGD with momentum 0.9 over two recorded steps: update 1 = -lr g1, update 2 =
    -lr (0.9 g1 + g2), with the gradients the steps recorded (atol 1e-7)."""
    model = CNN(ModelConfig(), seed=0)
    config = TrainConfig(optimizer="sgd", learning_rate=0.05, momentum=0.9, batch_size=32,
                         epochs=1, report_every=1)  # fmt: skip
    first, second = _recorded_steps(model, small_split, config, 2)
    for name, g1 in first.gradients.items():
        np.testing.assert_allclose(first.update[name], -0.05 * g1, atol=1e-7)
        velocity = 0.9 * g1 + second.gradients[name]
        np.testing.assert_allclose(second.update[name], -0.05 * velocity, atol=1e-7)
        np.testing.assert_allclose(second.weights_before[name], first.weights_after[name])


def test_a_control_changes_the_learning_rate_and_paused_time_is_not_counted(small_split):
    """TrainControl.learning_rate overrides the schedule from the next step; time reported as
    paused does not count against max_seconds."""
    model = CNN(ModelConfig(), seed=0)
    config = TrainConfig(learning_rate=1e-3, batch_size=32, epochs=1, report_every=1,
                         max_seconds=0.001)  # fmt: skip
    control = TrainControl(learning_rate=0.02, record_next_step=True, paused_seconds=1e6)
    events = train(model, small_split, config, control)
    step = next(e for e in events if isinstance(e, StepEvent))
    rest = list(events)
    assert step.learning_rate == 0.02
    assert isinstance(rest[-1], DoneEvent)  # 0.001 s of training time: only the paused time
    # (reported as far longer than the run took) keeps this from being a StoppedEvent


def test_gradient_norm_is_the_l2_norm_of_all_gradients_and_survives_float32_overflow():
    """The fused float32 norm equals a float64 sum of squares; a finite gradient too large for
    float32 squares still gives its true norm, an infinite or NaN gradient gives inf or NaN."""
    model = CNN(ModelConfig(), seed=0)
    generator = torch.Generator().manual_seed(1)
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=generator)
    exact = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in model.parameters()))
    assert gradient_norm(model) == pytest.approx(exact, rel=1e-6)
    first = next(model.parameters())
    first.grad.view(-1)[0] = 3e30  # its square overflows float32, not float64
    assert gradient_norm(model) == pytest.approx(3e30, rel=1e-6)
    first.grad.view(-1)[0] = math.inf
    assert gradient_norm(model) == math.inf
    first.grad.view(-1)[0] = math.nan
    assert math.isnan(gradient_norm(model))
    assert gradient_norm(CNN(ModelConfig(), seed=0)) == 0.0  # no gradients yet


def test_weights_finite_finds_one_bad_weight_and_accepts_huge_finite_ones():
    """weights_finite is False for one NaN or infinite weight anywhere, True for finite weights
    whose float32 norm overflows."""
    model = CNN(ModelConfig(), seed=0)
    assert weights_finite(model)
    last = list(model.parameters())[-1]
    with torch.no_grad():
        last.view(-1)[-1] = 3e30
    assert weights_finite(model)
    for bad in (math.inf, -math.inf, math.nan):
        with torch.no_grad():
            last.view(-1)[-1] = bad
        assert not weights_finite(model)


def test_training_a_batch_norm_model_moves_its_running_statistics_and_evaluation_does_not(
    small_split,
):
    """train() updates every norm stage's running statistics once per step (buffers, not
    parameters: the optimizer never touches them); evaluate() uses them and changes nothing."""
    model = CNN(ModelConfig(filters=(4, 6), batch_norm=True), seed=0)
    events = run(model, small_split, epochs=1, batch_size=64, report_every=100)
    assert isinstance(events[-1], DoneEvent)
    bn = model.stages["norm1"]
    assert int(bn.num_batches_tracked) == 4  # 256 images / 64 per batch
    assert not torch.allclose(bn.running_mean, torch.zeros(4))
    before = weights(model)
    evaluate(model, small_split.test)
    assert same_weights(before, weights(model))
