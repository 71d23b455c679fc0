"""cnn_core.attribution against PyTorch written out here: saliency and Grad-CAM against
torch.autograd.grad through the model's own forward (Grad-CAM's maps caught with a forward
hook), occlusion against a loop of single forward passes, receptive fields against the input
pixels with a non-zero gradient in a surrogate network of the same geometry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from cnn_core import attribution as at
from cnn_core import load_default_model
from cnn_core.data import load_bundled
from cnn_core.model import CNN, ModelConfig

ATOL = 1e-6  # float32 sums over a few thousand terms, in another order


@pytest.fixture(scope="module")
def model() -> CNN:
    return load_default_model()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return (load_bundled().test.images[7] / np.float32(255)).astype(np.float32)


def _x(image) -> torch.Tensor:
    return torch.from_numpy(image.copy()).reshape(1, 1, 28, 28)


def test_saliency_is_the_gradient_of_the_logit_by_autograd(model, image):
    """Saliency equals |d logit / d pixel| computed by torch.autograd, for the prediction and
    for class 3, as a 28x28 float32 map."""
    for target in (int(model.trace(image).prediction), 3):
        x = _x(image).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(x)[0, target], x)
        expected = grad[0, 0].abs().numpy()
        got = at.saliency(model, image, target)
        assert got.shape == (28, 28) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("stage", ["conv1", "act1", "pool1", "conv2", "act2", "pool2"])
def test_grad_cam_equals_the_formula_with_autograd(model, image, stage):
    """Grad-CAM equals ReLU(sum_k a_k A_k) with a_k the mean gradient of the stage's channel k,
    taken from a forward hook and autograd."""
    caught = {}
    hook = model.stages[stage].register_forward_hook(lambda m, i, out: caught.update(a=out))
    try:
        x = _x(image).requires_grad_(True)  # so the stage's output is part of the graph
        logits = model(x)
    finally:
        hook.remove()
    a = caught["a"]  # (1, K, h, w)
    target = int(logits.argmax())
    (grad,) = torch.autograd.grad(logits[0, target], a)
    weights = grad[0].mean(dim=(1, 2))  # a_k
    expected = torch.relu((weights[:, None, None] * a[0]).sum(dim=0)).detach().numpy()
    got = at.grad_cam(model, image, target, stage)
    assert got.shape == tuple(a.shape[2:]) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize(("patch", "stride", "fill"), [(4, 2, 0.0), (7, 3, 1.0), (28, 1, 0.5)])
def test_occlusion_equals_a_loop_of_masked_images(model, image, patch, stride, fill):
    """Occlusion equals a plain loop that masks each patch and measures the drop in the target's
    probability."""
    target = 3
    with torch.no_grad():
        base = torch.softmax(model(_x(image)), dim=1)[0, target].item()
        n = (28 - patch) // stride + 1
        expected = np.zeros((n, n), dtype=np.float64)
        for i, j in itertools.product(range(n), range(n)):
            masked = image.copy()
            masked[i * stride : i * stride + patch, j * stride : j * stride + patch] = fill
            p = torch.softmax(model(_x(masked)), dim=1)[0, target].item()
            expected[i, j] = base - p
    got = at.occlusion(model, image, target, patch=patch, stride=stride, fill=fill)
    assert got.shape == (n, n) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


def test_nothing_here_changes_the_model(image):
    """No gradient left on any parameter, the mode kept (train or eval), the weights equal."""
    for training in (False, True):
        model = CNN(ModelConfig(dropout=0.3), seed=1)
        model.train(training)
        before = model.fingerprint()
        at.saliency(model, image, 2)
        at.occlusion(model, image, 2)
        at.grad_cam(model, image, 2, "conv2")
        assert model.training is training and model.fingerprint() == before
        assert all(p.grad is None for p in model.parameters())


def test_dropout_never_applies(image):
    """A model in training mode with dropout gives the same maps twice (no random masks)."""
    model = CNN(ModelConfig(dropout=0.5), seed=1).train()
    np.testing.assert_array_equal(at.saliency(model, image, 1), at.saliency(model, image, 1))


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda m, x: at.saliency(m, x, 10), "the class must be from 0 to 9"),
        (lambda m, x: at.saliency(m, x, 1.5), "the class must be a whole number"),
        (lambda m, x: at.occlusion(m, x, 1, patch=29), "the patch size must be from 1 to 28"),
        (lambda m, x: at.occlusion(m, x, 1, stride=0), "the patch stride must be from 1 to 28"),
        (lambda m, x: at.occlusion(m, x, 1, fill=float("nan")), "the fill must be a number"),
        (lambda m, x: at.occlusion(m, x, 1, fill="grey"), "the fill must be a number"),
        (lambda m, x: at.grad_cam(m, x, 1, "dense"), "'dense' is not a conv, activation or pool"),
        (lambda m, x: at.grad_cam(m, x, 1, "conv9"), "choose one of conv1, act1, pool1, conv2"),
        (lambda m, x: at.saliency(m, x * np.nan, 1), "NaN"),
        (lambda m, x: at.saliency(m, x[:20], 1), "must be 28x28"),
    ],
)
def test_bad_arguments_get_a_sentence(model, image, call, words):
    """A bad class, patch, stride, fill or stage raises ValueError with the sentence a learner
    reads."""
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        call(model, image)


def test_receptive_field_arguments_are_checked():
    """receptive_field refuses a cell outside the stage and stages without a spatial map
    (flatten, the hidden dense activation)."""
    config = ModelConfig()
    with pytest.raises(ValueError, match="the row of pool2 must be from 0 to 6, got 7"):
        at.receptive_field(config, "pool2", 7, 0)
    with pytest.raises(ValueError, match="'flatten' is not a conv, activation or pool stage"):
        at.receptive_field(config, "flatten", 0, 0)
    hidden = ModelConfig(hidden_units=16)
    with pytest.raises(ValueError, match="'act_hidden' is not a conv"):
        at.receptive_field(hidden, "act_hidden", 0, 0)


def test_the_default_fields_grow_3_4_8_10():
    """The default model's receptive fields are 3, 4, 8 and 10 pixels wide at conv1, pool1,
    conv2 and pool2."""
    sizes = dict(at.field_sizes(ModelConfig()))
    assert [sizes[s] for s in ("conv1", "pool1", "conv2", "pool2")] == [3, 4, 8, 10]
    assert at.receptive_field(ModelConfig(), "pool2", 3, 3) == (9, 9, 18, 18)  # 10x10


# ----------------------------------------------------------------------------------------------
# Receptive fields against gradients


def _configs():
    """Kernels 3/5/7, strides 1/2, padding 0-3, pooling max/avg/none, 1-3 blocks (the valid
    ones of a fixed spread of combinations)."""
    combos = [
        ((3,), (1,), (1,), "max"),
        ((5,), (2,), (0,), "none"),
        ((7,), (1,), (3,), "avg"),
        ((3, 3), (1, 1), (1, 1), "max"),
        ((5, 3), (2, 1), (2, 0), "avg"),
        ((7, 5), (2, 2), (3, 2), "none"),
        ((3, 5, 3), (1, 1, 2), (0, 2, 1), "max"),
        ((3, 3, 3), (1, 1, 1), (3, 1, 0), "avg"),
        ((5, 5, 7), (1, 2, 1), (2, 1, 3), "none"),
        ((1, 3), (1, 2), (3, 0), "max"),  # padding around a 1x1 kernel: units that see nothing
    ]
    for k, s, p, pooling in combos:
        n = len(k)
        yield ModelConfig(filters=(2,) * n, kernel_size=k, stride=s, padding=p, pooling=pooling)


def _surrogate(config: ModelConfig) -> dict[str, nn.Module]:
    """The same geometry with all-positive weights, the identity for the activation and
    average pooling for max (max pooling and ReLU pass a gradient to one input or none)."""
    layers, c = {}, config.in_channels
    for b, (f, k, s, p) in enumerate(config.blocks(), start=1):
        conv = nn.Conv2d(c, f, k, s, p)
        nn.init.constant_(conv.weight, 1.0)
        nn.init.constant_(conv.bias, 0.0)
        layers[f"conv{b}"], layers[f"act{b}"] = conv, nn.Identity()
        if config.pooling != "none":
            layers[f"pool{b}"] = nn.AvgPool2d(config.pool_size, config.pool_stride)
        c = f
    return layers


def _depends_on(layers, stage: str, row: int, col: int) -> set[tuple[int, int]]:
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64).requires_grad_(True)
    y = x
    for name, layer in layers.items():
        y = layer.double()(y)
        if name == stage:
            break
    (grad,) = torch.autograd.grad(y[0, 0, row, col], x)
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(grad[0, 0].numpy()), strict=True)}


@pytest.mark.parametrize("config", list(_configs()), ids=lambda c: c.describe())
def test_receptive_fields_are_the_pixels_with_a_gradient(config):
    """Every receptive field is exactly the set of input pixels a cell's value depends on (non-
    zero gradient in a surrogate network)."""
    layers = _surrogate(config)
    for stage, _, (_, h, w) in at.spatial_stages(config):
        for row, col in {(0, 0), (h - 1, w - 1), (h // 2, w // 3), (0, w - 1)}:
            top, left, bottom, right = at.receptive_field(config, stage, row, col)
            field = {(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)}
            assert field == _depends_on(layers, stage, row, col), (stage, row, col)


def _depends_on_stage(layers, source: str, stage: str, row: int, col: int):
    """The cells of ``source``'s first map that cell (row, col) of ``stage``'s first map has a
    non-zero gradient for (the surrogate's channels are all alike)."""
    y = torch.rand(1, 1, 28, 28, dtype=torch.float64)
    names = list(layers)
    for name in names[: names.index(source) + 1]:
        y = layers[name].double()(y)
    start = y.detach().requires_grad_(True)
    y = start
    for name in names[names.index(source) + 1 : names.index(stage) + 1]:
        y = layers[name].double()(y)
    (grad,) = torch.autograd.grad(y[0, 0, row, col], start, allow_unused=True)
    if grad is None:  # stage == source: the cell itself
        return {(row, col)}
    return {(int(r), int(c)) for r, c in zip(*np.nonzero(grad[0, 0].numpy()), strict=True)}


@pytest.mark.parametrize("config", list(_configs())[3:], ids=lambda c: c.describe())
def test_fields_on_earlier_maps_are_the_cells_with_a_gradient(config):
    """field_on gives exactly the cells of every earlier map that a cell depends on (non-zero
    gradient in the surrogate network), and the input's field is receptive_field."""
    layers = _surrogate(config)
    stages = at.spatial_stages(config)
    for i, (stage, _, (_, h, w)) in enumerate(stages):
        for row, col in {(0, 0), (h - 1, w - 1), (h // 2, w // 3)}:
            assert at.field_on(config, stage, row, col, "input") == at.receptive_field(
                config, stage, row, col
            )
            for source, _, _ in stages[: i + 1]:
                top, left, bottom, right = at.field_on(config, stage, row, col, source)
                field = {(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)}
                expected = _depends_on_stage(layers, source, stage, row, col)
                assert field == expected, (source, stage, row, col)


def test_field_on_refuses_a_later_source():
    """A unit depends only on earlier maps: asking for a later one is refused with a sentence."""
    with pytest.raises(ValueError, match="comes after"):
        at.field_on(ModelConfig(), "conv1", 0, 0, "pool2")
    with pytest.raises(ValueError, match="not a conv, activation or pool stage"):
        at.field_on(ModelConfig(), "pool2", 0, 0, "flatten")
