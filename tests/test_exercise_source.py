"""Exercises made from the learner's own input (cnn_core.exercise_source.Source with a Trace) and
from the page's toy: the numbers a question shows are the model's own (rounded as it says),
checked here against PyTorch run on the model's modules directly; every answer is PyTorch's on
the numbers shown; the same seed and drawing give the same exercise, another drawing another."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import exercises as ex
from cnn_core import toy
from cnn_core.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint
from cnn_core.exercise_source import FROM_CLASSIC, FROM_INPUT, FROM_RANDOM, FROM_TOY, Source
from tests.conftest import held_out_digit

SEEDS = range(10)
ROUNDING = 1e-9  # numbers rounded to 1 or 2 decimals: equal to np.round's up to float error


@pytest.fixture(scope="module")
def learner():
    """(model, input image, Source of its trace): the shipped model on a held-out digit."""
    model, _ = load_checkpoint(DEFAULT_MODEL_PATH)
    model.eval()
    image = held_out_digit()
    return model, image, Source(trace=model.trace(image), class_names=tuple("0123456789"))


def _torch_maps(model, image) -> dict[str, torch.Tensor]:
    """Every stage's output from PyTorch itself: the model's own modules run one by one."""
    x = torch.tensor(image, dtype=torch.float32)[None, None]
    out = {}
    with torch.no_grad():
        for name, module in model.stages.items():
            x = module(x)
            out[name] = x[0]
    return out


def _cell(prompt: str, pattern: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.search(pattern, prompt).groups())


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_cell_shows_the_learners_patch_and_the_models_kernel(seed, learner):
    """The patch is the input around the asked cell (zero padding included) rounded to 1
    decimal, the kernel the model's conv1 kernel rounded to 2, the bias too; the answer is
    F.conv2d of those numbers; the unrounded value quoted is PyTorch's conv1 output there; the
    patch holds part of the stroke."""
    model, image, source = learner
    e = ex.make("conv_cell", seed, source)
    assert e.origin == FROM_INPUT and e.tolerance == 0.01
    row, col, o = _cell(e.prompt, r"output cell \((\d+), (\d+)\) of conv1, channel (\d+)")
    conv = model.stages["conv1"]
    k, p = conv.kernel_size[0], conv.padding[0]
    padded = np.pad(image, p)
    patch = np.round(padded[row : row + k, col : col + k].astype(np.float64), 1)
    kernel = np.round(conv.weight[o, 0].detach().double().numpy(), 2)
    bias = round(float(conv.bias[o].detach()), 2)
    assert np.abs(e.grids[0][1] - patch).max() < ROUNDING
    assert np.abs(e.grids[1][1] - kernel).max() < ROUNDING
    assert f"b = {ex.num(bias)}" in e.prompt
    want = F.conv2d(torch.tensor(patch)[None, None], torch.tensor(kernel)[None, None])
    assert e.answer == pytest.approx(float(want) + bias, abs=1e-9)
    exact = float(_torch_maps(model, image)["conv1"][o, row, col])
    assert f"gets {ex.num(exact)}" in e.solution
    assert 0 < patch.sum() < k * k  # some ink, not only ink


@pytest.mark.parametrize("seed", SEEDS)
def test_output_size_of_the_learners_maps_is_torchs(seed, learner):
    """Questions about the model's own conv layers answer the height PyTorch's layer gives;
    every question names a height the learner's trace holds."""
    model, image, source = learner
    e = ex.make("output_size", seed, source)
    assert e.origin == FROM_INPUT
    k, s, p, d, h = (int(v) for v in re.findall(r"= (\d+)", e.prompt)[:5])
    assert h in {s_.output.shape[1] for s_ in source.trace.stages if s_.output.ndim == 3}
    try:
        out = F.conv2d(torch.zeros(1, 1, h, h), torch.zeros(1, 1, k, k), stride=s, padding=p,
                       dilation=d)  # fmt: skip
        want = out.shape[2]
    except RuntimeError:
        want = None
    assert e.answer == want
    own = re.match(r"Your model's (conv\d+)", e.prompt)
    if own:
        assert e.answer == _torch_maps(model, image)[own.group(1)].shape[1]


def test_some_output_size_questions_are_about_the_models_own_layers(learner):
    """Across seeds, both kinds appear: the model's own layers and other settings on its maps."""
    prompts = [ex.make("output_size", s, learner[2]).prompt for s in range(20)]
    assert any(p.startswith("Your model's conv") for p in prompts)
    assert any(not p.startswith("Your model's") for p in prompts)


@pytest.mark.parametrize("seed", SEEDS)
def test_activation_value_comes_from_the_learners_conv_map(seed, learner):
    """z is PyTorch's conv1 output at the named cell, rounded to 2 decimals; the answer is
    PyTorch's activation of z within the stated tolerance."""
    model, image, source = learner
    e = ex.make("activation", seed, source)
    c, i, j = _cell(e.prompt, r"conv1 map, channel (\d+), cell \((\d+), (\d+)\)")
    z = float(re.search(r"z = (-?\d+(?:\.\d+)?)", e.prompt).group(1))
    assert z == pytest.approx(round(float(_torch_maps(model, image)["conv1"][c, i, j]), 2))
    functions = {"ReLU": F.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh}
    label = re.search(r"What does (.+) make of it", e.prompt).group(1)
    if label in functions:
        want = float(functions[label](torch.tensor(z, dtype=torch.float64)))
        assert e.answer == pytest.approx(want, abs=1e-6)


def test_activation_questions_use_the_models_own_function_sometimes(learner):
    """Some questions say they use the model's own function (ReLU for the shipped model)."""
    prompts = [ex.make("activation", s, learner[2]).prompt for s in range(20)]
    own = [p for p in prompts if "your model's own function" in p]
    assert own and all("ReLU" in p for p in own)


@pytest.mark.parametrize("seed", SEEDS)
def test_pooling_windows_come_from_the_learners_activation_map(seed, learner):
    """The 5x5 map is the named piece of PyTorch's act1 output rounded to 1 decimal; the
    answer is F.max_pool2d / F.avg_pool2d (2x2, stride 2, ceil_mode) of it."""
    model, image, source = learner
    act = _torch_maps(model, image)["act1"].double()
    for kind, pool in (("max_pool", F.max_pool2d), ("avg_pool", F.avg_pool2d)):
        e = ex.make(kind, seed, source)
        assert e.origin == FROM_INPUT
        c, r0, r1, q0, q1 = _cell(
            e.prompt, r"channel (\d+) \(rows (\d+)\.\.(\d+), columns (\d+)\.\.(\d+)"
        )
        piece = np.round(act[c, r0 : r1 + 1, q0 : q1 + 1].numpy(), 1)
        assert np.abs(e.grids[0][1] - piece).max() < ROUNDING
        row, col = _cell(e.prompt, r"cell \((\d), (\d)\)\?")
        want = pool(torch.tensor(piece)[None, None], 2, 2, ceil_mode=True)[0, 0, row, col]
        assert e.answer == pytest.approx(float(want), abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_flat_index_uses_the_learners_pooled_maps(seed, learner):
    """The shape is that of PyTorch's pool2 output; the value quoted is there; torch.flatten puts
    it at the answer's index, and the (c, h, w) of the index question is where it came from."""
    model, image, source = learner
    pooled = _torch_maps(model, image)["pool2"]
    e = ex.make("flat_index", seed, source)
    shape, cell = (tuple(map(int, t)) for t in re.findall(r"\((\d+), (\d+), (\d+)\)", e.prompt))
    assert shape == tuple(pooled.shape) and e.origin == FROM_INPUT
    assert f"holds {ex.num(float(pooled[cell]))}" in e.prompt
    assert torch.flatten(pooled)[e.answer] == pooled[cell]
    back = ex.make("unflat_index", seed, source)
    i = int(re.search(r"index i = (\d+)", back.prompt).group(1))
    assert back.answer == tuple(int(v) for v in np.unravel_index(i, tuple(pooled.shape)))
    assert f"holds {ex.num(float(torch.flatten(pooled)[i]))}" in back.prompt


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_and_winner_use_the_learners_logits(seed, learner):
    """The logits are the model's (PyTorch's forward) rounded as stated; the probability is
    torch.softmax of the shown logits over T; the winner is the model's prediction."""
    model, image, source = learner
    with torch.no_grad():
        logits = model(torch.tensor(image)[None, None])[0].double()
    e = ex.make("softmax", seed, source)
    d = int(re.search(r"rounded to (\d) decimal", e.prompt).group(1))
    z = [float(v) for v in re.search(r"z = \(([^)]*)\)", e.prompt).group(1).split(", ")]
    assert np.allclose(z, np.round(logits.numpy(), d), atol=1e-9)
    t = float(re.search(r"T = ([\d.]+)", e.prompt).group(1))
    k = int(re.search(r"probability of class (\d)", e.prompt).group(1))
    want = torch.softmax(torch.tensor(z, dtype=torch.float64) / t, 0)[k].item()
    assert e.answer == pytest.approx(want, abs=1e-9)
    w = ex.make("argmax", seed, source)
    assert w.answer == int(logits.argmax()) == source.trace.prediction


def test_the_same_seed_and_drawing_give_the_same_exercise_another_drawing_another(learner):
    """make is a function of (seed, source): reproducible from a link's seed and drawing; a
    different drawing gives different numbers with the same seed, and a different tag."""
    model, _, source = learner
    other = Source(trace=model.trace(held_out_digit(5)))
    for kind in ("conv_cell", "activation", "max_pool", "flat_index", "softmax"):
        a, b = ex.make(kind, [4, 1], source), ex.make(kind, [4, 1], source)
        assert a.prompt == b.prompt and a.answer == b.answer
        assert ex.make(kind, [4, 1], other).prompt != a.prompt, kind
    assert source.tag != other.tag and source.tag == Source(trace=source.trace).tag


def test_toy_exercises_use_the_toy_grids():
    """Without a drawing: the conv cell is F.conv2d of the toy input and kernel, the pooled
    window a piece of the toy's conv map, the activation a value of it, softmax the toy
    logits; with neither, random numbers (and the question says which)."""
    image = toy.TOY_IMAGE.copy()
    image[0, 0] = 3  # an edited toy
    source = Source(toy_image=image, toy_kernel=toy.TOY_KERNEL, toy_logits=np.array([0.5, 2, 1]))
    conv_map = F.conv2d(torch.tensor(image)[None, None], torch.tensor(toy.TOY_KERNEL)[None, None])
    for seed in SEEDS:
        e = ex.make("conv_cell", seed, source)
        row, col = _cell(e.prompt, r"output cell \((\d+), (\d+)\)")
        assert e.origin == FROM_TOY and e.answer == float(conv_map[0, 0, row, col])
        p = ex.make("max_pool", seed, source)
        assert np.array_equal(p.grids[0][1], conv_map[0, 0].numpy())
        a = ex.make("activation", seed, source)
        i, j = _cell(a.prompt, r"cell \((\d+), (\d+)\)")
        assert f"z = {ex.num(float(conv_map[0, 0, i, j]))}" in a.prompt
        s = ex.make("softmax", seed, source)
        assert s.origin == FROM_TOY and "z = (0.5, 2, 1)" in s.prompt
    assert ex.make("conv_cell", 1).origin == FROM_RANDOM
    assert ex.make("smiley_conv", 1, source).origin == FROM_CLASSIC


def test_a_toy_kernel_larger_than_the_toy_input_falls_back_to_random_numbers():
    """A toy whose kernel does not fit has no conv map: the exercise still works."""
    source = Source(toy_image=np.ones((2, 2), np.float32), toy_kernel=np.ones((3, 3), np.float32))
    assert source.toy_map() is None
    assert ex.make("conv_cell", 2, source).origin == FROM_RANDOM
    assert ex.make("avg_pool", 2, source).origin == FROM_RANDOM


def test_rounded_logits_never_invent_a_tie_for_first_place():
    """Two logits equal at one decimal are shown with more decimals, so 'which class wins' has
    one answer; the toy's tie for first place falls back to random logits."""
    source = Source(toy_logits=np.array([2.04, 2.01, -1.0]))
    e = ex.make("argmax", 0, source)
    assert "rounded to 2 decimals" in e.prompt and e.answer == 0
    tie = Source(toy_logits=np.array([1.0, 1.0, 0.0]))
    assert ex.make("argmax", 0, tie).origin == FROM_RANDOM
