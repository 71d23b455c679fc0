"""cnn_core.norm: a batch-norm stage explained with its numbers, at inference (the running
statistics) and in training (the batch's statistics and the running update), against PyTorch's
nn.BatchNorm2d / F.batch_norm; and the running statistics travel with the training worker's
weights."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import CNN, ModelConfig, norm
from cnn_core.data import load_bundled
from cnn_core.job_worker import arrays_to_weights, weights_to_arrays

# norm_step recomputes one float32 stage in float64 (ops.batch_norm): a subtraction, a product
# and a sum per value, each rounded in float32 by PyTorch, on values of magnitude < 50.
INFERENCE_ATOL = 1e-5
# batch_statistics and its PyTorch oracle both compute in float64 from the same float64 values
# (the normalised values agree to ~1e-14), but PyTorch's running update rounds the momentum
# through float32: ~2e-8 relative on running statistics of magnitude < 10.
TRAINING_ATOL = 1e-6


@pytest.fixture(scope="module")
def model() -> CNN:
    """A batch-norm model trained for a few steps on real digits, so that its running
    statistics, scales and shifts are not the initial 0s and 1s."""
    model = CNN(ModelConfig(filters=(4, 6), batch_norm=True), seed=3)
    train = load_bundled().train
    images = torch.from_numpy(train.as_float()[:64]).unsqueeze(1)  # (64, 1, 28, 28)
    labels = torch.from_numpy(train.labels[:64].copy())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for i in range(0, 64, 16):
        optimizer.zero_grad()
        F.cross_entropy(model(images[i : i + 16]), labels[i : i + 16]).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def traces(model):
    return [model.trace(image) for image in load_bundled().test.as_float()[:8]]


def test_norm_step_equals_batchnorm2d_with_its_scale_and_shift(model, traces):
    """A channel's output is nn.BatchNorm2d's in eval mode (INFERENCE_ATOL); the NumPy recompute
    agrees; y = x * scale + shift with scale = weight / sqrt(var + eps), shift = bias - mean *
    scale; the numbers are the module's own."""
    trace, bn = traces[0], model.stages["norm2"]
    x = torch.from_numpy(trace.input_of("norm2")).unsqueeze(0)
    with torch.no_grad():
        want = copy.deepcopy(bn).eval()(x)[0, 5].numpy()
    step = norm.norm_step(trace, "norm2", 5)
    np.testing.assert_allclose(step.after, want, rtol=0, atol=INFERENCE_ATOL)
    np.testing.assert_allclose(step.numpy_after, want, rtol=0, atol=INFERENCE_ATOL)
    assert step.difference <= INFERENCE_ATOL
    np.testing.assert_allclose(step.before * step.scale + step.shift, want, atol=INFERENCE_ATOL)
    assert step.running_var == pytest.approx(float(bn.running_var[5]))
    assert step.weight == pytest.approx(float(bn.weight.detach()[5])) and step.weight != 1.0
    assert step.num_batches_tracked == 4 and step.momentum == 0.1


def test_norm_step_refuses_other_stages_and_channels(traces):
    """Only a norm stage and one of its channels can be explained."""
    with pytest.raises(ValueError, match="'act1' is a activation stage, not a batch-norm stage"):
        norm.norm_step(traces[0], "act1", 0)
    with pytest.raises(ValueError, match="channel must be from 0 to 3"):
        norm.norm_step(traces[0], "norm1", 4)


def test_batch_statistics_equal_a_training_mode_batchnorm2d(model, traces):
    """For a batch of 8 traced digits, the batch mean and biased variance over (N, H, W), the
    first image normalised with them, and the running statistics after one update equal what a
    copy of the module computes and stores in train mode (float32 module: 1e-5); the model's own
    statistics are untouched."""
    stats = norm.batch_statistics(traces, "norm1")
    assert stats.torch_difference <= TRAINING_ATOL
    bn = copy.deepcopy(model.stages["norm1"]).train()
    x = torch.from_numpy(np.stack([t.input_of("norm1") for t in traces]))  # (8, 4, 28, 28)
    with torch.no_grad():
        out = bn(x)
    np.testing.assert_allclose(stats.normalized, out[0].numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(stats.running_mean, bn.running_mean.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(stats.running_var, bn.running_var.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(stats.mean, x.double().mean(dim=(0, 2, 3)).numpy(), atol=1e-12)
    assert stats.count == 8 * 28 * 28
    assert not np.allclose(model.stages["norm1"].running_mean.numpy(), stats.running_mean)


def test_batch_statistics_need_two_images(traces):
    """One image has no batch variance worth the name: refused."""
    with pytest.raises(ValueError, match="at least 2 images"):
        norm.batch_statistics(traces[:1], "norm1")


def test_the_training_workers_weights_carry_the_running_statistics(model, traces):
    """The worker sends weights as its state dict in NumPy arrays: the running statistics are in
    it, and a fresh model loaded from them traces exactly as the trained one."""
    arrays = weights_to_arrays(model)
    assert {"stages.norm1.running_mean", "stages.norm2.running_var"} <= set(arrays)
    fresh = CNN(model.config, seed=9)
    fresh.load_state_dict(arrays_to_weights(arrays))
    image = load_bundled().test.as_float()[0]
    np.testing.assert_array_equal(fresh.eval().trace(image).logits, traces[0].logits)


# A network whose third batch norm sees a 1x1 map (28 -> 11 -> 3 -> 1, no pooling to speak of).
ONE_BY_ONE = ModelConfig(
    filters=(4, 4, 4), kernel_size=(7, 7, 3), stride=(2, 2, 1), padding=0, batch_norm=True,
    pool_size=1, pool_stride=1,
)  # fmt: skip


def test_a_last_batch_of_one_image_joins_the_one_before_when_a_norm_map_is_1x1():
    """201 images in batches of 100 with batch norm on a 1x1 map: two steps (100 and 101
    images; a batch of one would make PyTorch's training batch norm raise), every image seen;
    without a 1x1 norm map the usual three batches."""
    from cnn_core.train import TrainConfig, train

    assert ONE_BY_ONE.single_value_norms() == ["norm3"]
    assert ONE_BY_ONE.batches_per_epoch(201, 100) == 2
    assert (
        ONE_BY_ONE.batches_per_epoch(202, 100) == 3 and ONE_BY_ONE.batches_per_epoch(200, 100) == 2
    )
    assert ModelConfig(batch_norm=True).batches_per_epoch(201, 100) == 3
    config = TrainConfig(epochs=1, batch_size=100, max_images=201, augment=False, report_every=1)
    events = list(train(CNN(ONE_BY_ONE), load_bundled(), config))
    steps = [e for e in events if type(e).__name__ == "BatchEvent"]
    assert type(events[-1]).__name__ == "DoneEvent" and len(steps) == 2
    assert steps[-1].images_seen == 201


def test_batches_of_one_image_with_a_1x1_norm_map_are_refused_with_the_reason():
    """Batch size 1 cannot train a batch norm that sees one value per channel: a ValueError
    names the stage, before any step."""
    from cnn_core.train import TrainConfig, train

    with pytest.raises(ValueError, match="norm3 sees a 1x1 map"):
        ONE_BY_ONE.check_batch_size(1)
    config = TrainConfig(epochs=1, batch_size=1, max_images=5, augment=False)
    with pytest.raises(ValueError, match="at least 2 images"):
        list(train(CNN(ONE_BY_ONE), load_bundled(), config))
    ModelConfig(batch_norm=True).check_batch_size(1)  # larger maps: batch size 1 is fine
