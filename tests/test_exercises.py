"""cnn_core.exercises: answers read from typed text, checked with the stated tolerance; every
kind's answer and worked solution agree with cnn_core.ops (and PyTorch); the same seed gives the
same exercise; worksheets have blanks and the key has the answers."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import exercises as ex
from cnn_core import ops

SEEDS = range(12)


def test_every_page_kind_is_registered_and_makes_exercises():
    """Every kind a page lists exists, and each makes an exercise with an answer of its kind
    and a solution that prints that answer."""
    for kinds in ex.PAGE_KINDS.values():
        for kind in kinds:
            for seed in range(4):
                e = ex.make(kind, seed)
                assert e.kind == kind and e.expects in ex.EXPECTS
                shown = "none" if e.answer is None else e.answer_text.split(" ")[0]
                assert shown.lower() in e.solution.lower() or e.answer is None, (kind, seed)


def test_the_same_seed_gives_the_same_exercise_and_another_seed_another():
    """make is reproducible from its seed; different seeds give different numbers."""
    a, b = ex.make("conv_cell", [7, 1, 2, 0]), ex.make("conv_cell", [7, 1, 2, 0])
    assert a.prompt == b.prompt and a.answer == b.answer
    prompts = {ex.make("conv_cell", [s]).solution for s in SEEDS}
    assert len(prompts) > 6


@pytest.mark.parametrize("seed", SEEDS)
def test_output_size_agrees_with_torch_or_torch_refuses(seed):
    """The output-size answer is the height of F.conv2d's output; 'none' exactly when F.conv2d
    raises."""
    e = ex.make("output_size", seed)
    k, s, p, d, h = (int(v) for v in re.findall(r"= (\d+)", e.prompt)[:5])
    try:
        out = F.conv2d(torch.zeros(1, 1, h, d * (k - 1) + 1), torch.zeros(1, 1, k, k),
                       stride=s, padding=(p, 0), dilation=d)  # fmt: skip
        want = out.shape[2]
    except RuntimeError:
        want = None
    assert e.answer == want, e.prompt


def test_output_size_makes_invalid_ones_with_a_reason():
    """Some seeds make a kernel larger than the padded input: the answer is None, 'none' is
    right, a number is wrong, and the solution says why."""
    invalid = [e for e in (ex.make("output_size", s) for s in range(40)) if e.answer is None]
    assert invalid
    e = invalid[0]
    assert ex.check(e, "none").correct and ex.check(e, "No output").correct
    assert not ex.check(e, "3").correct
    assert "No output" in e.solution and "padded input" in e.solution


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_cell_is_conv2d_of_the_patch(seed):
    """The conv cell's answer is b + sum(patch * kernel), as F.conv2d of the patch gives."""
    e = ex.make("conv_cell", seed)
    patch, kernel = (g for _, g in e.grids)
    bias = float(re.search(r"b = (-?\d+)", e.prompt).group(1))
    x, w = (torch.tensor(g, dtype=torch.float64)[None, None] for g in (patch, kernel))
    want = F.conv2d(x, w, torch.tensor([bias], dtype=torch.float64))
    assert e.answer == pytest.approx(float(want), abs=1e-12)
    assert f"**{ex.num(e.answer)}**" in e.solution


@pytest.mark.parametrize("seed", SEEDS)
def test_pooling_answers_are_torch_pooling_with_ceil_mode(seed):
    """Max and average answers are F.max_pool2d / F.avg_pool2d (2x2, stride 2, ceil_mode) at
    the asked cell; the average exercise always asks a partial window."""
    for kind, pool in (("max_pool", F.max_pool2d), ("avg_pool", F.avg_pool2d)):
        e = ex.make(kind, seed)
        row, col = (int(v) for v in re.search(r"cell \((\d), (\d)\)\?", e.prompt).groups())
        x = torch.tensor(e.grids[0][1], dtype=torch.float64)[None, None]
        want = pool(x, 2, 2, ceil_mode=True)[0, 0, row, col].item()
        assert e.answer == pytest.approx(want, abs=1e-12), kind
        if kind == "avg_pool":
            assert 2 in (row, col) and "partial window" in e.solution


@pytest.mark.parametrize("seed", SEEDS)
def test_flat_index_and_back_are_torch_order(seed):
    """The flat index of (c, h, w) is its position in torch.flatten, and unflat_index goes back."""
    e = ex.make("flat_index", seed)
    shape, cell = (tuple(map(int, t)) for t in re.findall(r"\((\d+), (\d+), (\d+)\)", e.prompt))
    t = torch.zeros(shape)
    t[cell] = 1
    assert e.answer == int(torch.flatten(t).argmax())
    back = ex.make("unflat_index", seed)
    i = int(re.search(r"i = (\d+)", back.prompt).group(1))
    shape = tuple(int(v) for v in re.search(r"= \((\d+), (\d+), (\d+)\)", back.prompt).groups())
    assert ops.flat_index(*back.answer, shape) == i


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_and_the_winner_are_torch_softmax(seed):
    """The probability is torch.softmax(z / T)[k]; the winner is the largest logit."""
    e = ex.make("softmax", seed)
    z = [float(v) for v in re.search(r"z = \(([^)]*)\)", e.prompt).group(1).split(", ")]
    t = float(re.search(r"T = ([\d.]+)", e.prompt).group(1))
    k = int(re.search(r"class (\d)\?", e.prompt).group(1))
    assert e.answer == pytest.approx(torch.softmax(torch.tensor(z) / t, 0)[k].item(), abs=1e-6)
    w = ex.make("argmax", seed)
    z = [float(v) for v in re.search(r"z = \(([^)]*)\)", w.prompt).group(1).split(", ")]
    assert w.answer == int(np.argmax(z))


def test_a_number_within_the_tolerance_is_right_and_outside_is_wrong():
    """Softmax answers are right within ±0.01 and wrong beyond it; exact kinds need the number."""
    e = ex.make("softmax", 3)
    p = e.answer
    assert e.tolerance_text == "within ±0.01"
    assert ex.check(e, f"{p + 0.009:.6f}").correct and ex.check(e, f"{p - 0.009:.6f}").correct
    assert not ex.check(e, f"{p + 0.02:.6f}").correct
    c = ex.make("conv_cell", 3)
    assert c.tolerance_text == "exact"
    assert ex.check(c, str(int(c.answer))).correct and not ex.check(c, str(c.answer + 1)).correct


@pytest.mark.parametrize(
    "expects, text, value",
    [("number", "3/4", 0.75), ("number", "0,5", 0.5), ("number", " -2 ", -2.0),
     ("whole", "12", 12), ("whole", "12.0", 12), ("size", "None", None),
     ("triple", "(1, 2, 0)", (1, 2, 0)), ("triple", "1 2 3", (1, 2, 3))],
)  # fmt: skip
def test_answers_are_read_from_what_learners_type(expects, text, value):
    """Fractions, decimal commas, spaces, 'none' and (c, h, w) in brackets are read."""
    assert ex.read_answer(expects, text) == value


@pytest.mark.parametrize(
    "expects, text, words",
    [("number", "", "Type your answer"), ("number", "abc", "not a number"),
     ("number", "inf", "finite"), ("number", "1/0", "not a number"),
     ("whole", "2.5", "not a whole number"), ("size", "big", "not a number"),
     ("triple", "1, 2", "three whole numbers"), ("triple", "1, x, 2", "three whole numbers")],
)  # fmt: skip
def test_text_that_is_not_an_answer_says_what_to_type(expects, text, words):
    """Invalid text raises AnswerError with a sentence saying what to type."""
    with pytest.raises(ex.AnswerError, match=words):
        ex.read_answer(expects, text)


def test_the_classic_exercises_use_the_worked_examples_numbers():
    """The classic 28x28 size is 26 and every smiley / RGB cell asked is the ops' value."""
    from cnn_core import worked_examples as wx

    assert ex.make("mnist_size", 0).answer == 26
    for seed in SEEDS:
        e = ex.make("smiley_flat", seed)
        i = int(re.search(r"position (\d)\?", e.prompt).group(1))
        assert e.answer == wx.smiley().flat[i]
        r = ex.make("rgb_cell", seed)
        found = re.search(r"cell \((\d), (\d)\) of output map (\d)", r.prompt).groups()
        row, col, o = (int(v) for v in found)
        assert r.answer == wx.rgb_toy().output[o, row, col]


def test_a_worksheet_has_blanks_and_the_key_has_answers_and_solutions():
    """The worksheet shows each question and a blank, never an answer; the key shows each
    answer, its tolerance and the worked solution."""
    items = [ex.make("avg_pool", 1), ex.make("unflat_index", 2)]
    sheet, key = ex.worksheet("Pooling", items, False), ex.worksheet("Pooling", items, True)
    assert sheet.count("): ____") == 2 and "**Answer:**" not in sheet
    for e in items:
        assert e.prompt in sheet and e.solution not in sheet
        assert e.solution in key and f"**Answer:** {e.answer_text}" in key
    assert "| **4** |" in sheet  # the 5x5 map as a table with numbered rows
