"""Exercise generators (cnn_core.exercises.make): output size (invalid ones too), a conv output
cell from its patch and kernel, an activation, a max- and an average-pooled window (a partial one
with ceil_mode), the flat index of (c, h, w) and back, a softmax probability with temperature T,
and which class wins.

Each takes its numbers from the ``Source`` (cnn_core/exercise_source.py): the learner's input
through the model in use when there is one (a patch of the drawing and the model's kernel, a
value of the map before the activation, a window of the map the pooling reads, the flatten
stage's shape and values, the logits), else the page's toy, else fresh random numbers; the seed
picks the cell, channel, window, class and settings. Every answer comes from cnn_core.ops on the
numbers the question shows; the worked solution prints the formula with the same numbers."""

from __future__ import annotations

import numpy as np

from . import activations, conv_lab, ops
from .exercise_source import (
    FROM_INPUT,
    FROM_RANDOM,
    FROM_TOY,
    Source,
    distinct_decimals,
    first_stage,
    pick,
    rounded,
    strongest,
)
from .exercises import Exercise, num, register

FLOOR = "⌊", "⌋"


def _size_exercise(size, k, s, p, d, subject="A convolution", over="an input", origin=FROM_RANDOM):
    """The output length of one axis for these settings, or None when the kernel does not fit.
    ``subject`` and ``over`` name the layer and what it reads (the learner's own, or none)."""
    prompt = (
        f"{subject} with kernel size k = {k}, stride s = {s}, padding p = {p} and dilation "
        f"d = {d} slides over {over} of height H = {size}. What is the output height? Type "
        "`none` if there is no output, and think about why."
    )
    formula = "H_out = ⌊(H + 2p − d·(k − 1) − 1) / s⌋ + 1"
    try:
        out = conv_lab.output_size(size, k, s, p, d)
    except ValueError as err:
        span, padded = d * (k - 1) + 1, size + 2 * p
        solution = (
            f"No output. The kernel spans d·(k − 1) + 1 = {d}·{k - 1} + 1 = {span} cells, but "
            f"the padded input has only H + 2p = {size} + {2 * p} = {padded}: the window fits "
            f"nowhere, so PyTorch raises an error ({err})."
        )
        return Exercise("output_size", prompt, None, solution, "size", origin=origin)
    solution = (
        f"{formula} = ⌊({size} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = "
        f"⌊{out.numerator} / {s}⌋ + 1 = {out.numerator // s} + 1 = **{out.out}**."
    )
    if out.leftover:
        solution += f" The last {out.leftover} padded row(s) are never under the kernel."
    return Exercise("output_size", prompt, out.out, solution, "size", origin=origin)


def _sizes_seen(source: Source) -> list[tuple[int, str, str]]:
    """(height, what it is, origin) of the maps the learner's trace holds, else the toy's."""
    trace = source.trace
    if trace is not None:
        return [
            (s.output.shape[1], f"the {s.output.shape[1]}x{s.output.shape[2]} maps of your "
             f"input's {s.name} stage, each", FROM_INPUT)
            for s in trace.stages if s.output.ndim == 3
        ]  # fmt: skip
    if source.toy_image is not None:
        h, w = np.shape(source.toy_image)
        return [(h, f"the {h}x{w} toy input", FROM_TOY)]
    return []


@register("output_size", "Output size of a convolution")
def output_size(rng: np.random.Generator, source: Source) -> Exercise:
    """Half the time (with a trace) one of the learner's model's own conv layers on the map it
    reads; else random settings on a map the learner's trace (or the toy) holds; one time in
    four a kernel wider than the padded input (on the smallest such map)."""
    convs = source.trace.by_kind("conv") if source.trace is not None else []
    if convs and rng.random() < 0.5:
        stage = pick(rng, convs, convs[0])
        p, prev = stage.params, source.trace.previous(stage.name)
        h = source.trace.input_of(stage.name).shape[1]
        over = "your input" if prev == "input" else f"the maps {prev} makes from your input"
        return _size_exercise(
            h, p["kernel_size"], p["stride"], p["padding"], p["dilation"],
            f"Your model's {stage.name}, a convolution", over, FROM_INPUT,
        )  # fmt: skip
    d, seen = int(rng.choice([1, 1, 1, 2])), _sizes_seen(source)
    if rng.random() < 0.25:  # no output: the dilated kernel is wider than the padded input
        size, over, origin = min(seen) if seen else (int(rng.integers(3, 7)), "an input", None)
        p = int(rng.integers(0, 2))
        k = int(rng.integers((size + 2 * p) // d + 2, (size + 2 * p) // d + 4))
    else:
        size, over, origin = pick(rng, seen, (int(rng.integers(6, 33)), "an input", None))
        k, p = int(rng.choice([1, 2, 3, 3, 5, 5, 7])), int(rng.integers(0, 3))
    return _size_exercise(
        size, k, int(rng.integers(1, 3 if k > size else 4)), p, d, over=over,
        origin=origin or FROM_RANDOM,
    )  # fmt: skip


def products_text(patch, kernel) -> str:
    """'a·b + c·d + ...' of the element-wise products, in reading order."""
    pairs = zip(np.ravel(patch), np.ravel(kernel), strict=True)
    return " + ".join(f"{num(x)}·{num(w)}" if w >= 0 else f"{num(x)}·({num(w)})" for x, w in pairs)


def _conv_answer(step: ops.ConvStep, prompt: str, origin: str, note: str = "") -> Exercise:
    """The exercise for one worked conv cell: grids of the patch and kernel (one pair per input
    channel), the sum in the solution."""
    bias, total = f"{num(step.bias)} + " if step.bias else "", step.channel_sums.sum()
    solution = (
        f"out = b + Σ patch·kernel = {bias or '0 + '}({products_text(step.patch, step.kernel)}) "
        f"= {bias}{num(total) if total >= 0 or not bias else f'({num(total)})'} = "
        f"**{num(step.value)}**.{note}"
    )
    many = step.patch.shape[0] > 1
    grids = []
    for c in range(step.patch.shape[0]):
        at = f" (input channel {c})" if many else ""
        grids += [(f"patch x{at}", step.patch[c]), (f"kernel w{at}", step.kernel[c])]
    whole = all(np.allclose(a, np.round(a)) for a in (step.patch, step.kernel, step.bias))
    tolerance = 0.0 if whole else 0.01  # whole numbers: exact; decimals: a learner may round
    return Exercise(
        "conv_cell", prompt, step.value, solution, "number", tolerance, tuple(grids), origin
    )


def _conv_cell_of_input(rng: np.random.Generator, source: Source, stage) -> Exercise:
    """A cell of the model's first conv on the learner's input whose patch is part ink, part
    background (the stroke's edge, where a kernel has most to say), else any with ink: the
    patch rounded to 1 decimal, the kernel and bias to 2."""
    p, x = stage.params, source.trace.input_of(stage.name)
    o = int(rng.integers(p["out_channels"]))
    k, s, pad, d = p["kernel_size"], p["stride"], p["padding"], p["dilation"]
    ink = ops.conv2d(x.sum(axis=0, keepdims=True), np.ones((1, 1, k, k)), None, s, pad, d)[0]
    full = ink.max()
    edge = np.argwhere((ink > 0.25 * full) & (ink < 0.75 * full))
    row, col = (int(v) for v in pick(rng, edge, pick(rng, np.argwhere(ink > 0.05), (0, 0))))
    w, b = rounded(p["weight"][o : o + 1], 2), rounded(p["bias"][o : o + 1], 2)
    step = ops.conv2d_at(rounded(x, 1), w, b, s, pad, 0, row, col, d)
    dilation = f", dilation {d}" if d > 1 else ""
    prompt = (
        f"Your input under output cell ({row}, {col}) of {stage.name}, channel {o} (kernel "
        f"{k}x{k}, stride {s}, padding {pad}{dilation}; cells of the zero padding are 0): the "
        "patch, rounded to 1 decimal, and the channel's kernel, rounded to 2, are below. The "
        f"bias is b = {num(step.bias)}. With these numbers, what is the output cell's value?"
    )
    exact = float(stage.output[o, row, col])
    note = f" (The model itself, with unrounded numbers, gets {num(exact)}.)"
    return _conv_answer(step, prompt, FROM_INPUT, note)


@register("conv_cell", "One output cell of a convolution")
def conv_cell(rng: np.random.Generator, source: Source) -> Exercise:
    """out = b + Σ x·w for one output cell: of the learner's input through the model's first
    conv; else of the toy input under the toy kernel (stride 1, no padding, no bias); else a
    random 5x5 input of small whole numbers with a kernel of -1/0/1 and a bias."""
    stage = first_stage(source.trace, "conv")
    if stage is not None:
        return _conv_cell_of_input(rng, source, stage)
    toy_map = source.toy_map()
    if toy_map is not None:
        row, col = (int(v) for v in rng.integers(0, toy_map.shape, size=2))
        image, kernel = np.asarray(source.toy_image), np.asarray(source.toy_kernel)
        step = ops.conv2d_at(image[None], kernel[None, None], None, 1, 0, 0, row, col)
        prompt = (
            f"The toy kernel sits on the toy input at output cell ({row}, {col}) (stride 1, no "
            "padding, no bias): the patch under it and the kernel are below. What is the "
            "output cell's value?"
        )
        return _conv_answer(step, prompt, FROM_TOY)
    x = rng.integers(0, 4, size=(1, 5, 5)).astype(np.float32)  # (C_in=1, 5, 5)
    w = rng.integers(-1, 2, size=(1, 1, 3, 3)).astype(np.float32)  # (C_out, C_in, 3, 3)
    b = np.array([int(rng.integers(-2, 3))], dtype=np.float32)
    row, col = (int(v) for v in rng.integers(0, 3, size=2))
    step = ops.conv2d_at(x, w, b, 1, 0, 0, row, col)
    prompt = (
        f"The kernel sits on the patch below (output cell ({row}, {col}) of a 5x5 input, stride "
        f"1). The bias is b = {num(step.bias)}. What is the output cell's value?"
    )
    return _conv_answer(step, prompt, FROM_RANDOM)


ACTIVATION_FORMULAS = {
    "relu": ("max(0, z)", "max(0, {z})"),
    "leaky_relu": ("z if z > 0 else a·z (a = {a})", "{z} if {z} > 0 else {a}·({z})"),
    "sigmoid": ("1 / (1 + e^(−z))", "1 / (1 + e^(−({z})))"),
    "tanh": ("(e^z − e^(−z)) / (e^z + e^(−z))", "tanh({z})"),
}


def _cell_of_sign(rng: np.random.Generator, values: np.ndarray, mask=True) -> tuple[int, ...]:
    """A cell of ``values`` (among ``mask``) clearly below zero (two times in five) or above;
    any cell when there is no such one."""
    negative = rng.random() < 0.4
    for below in (negative, not negative):
        cells = np.argwhere(mask & (values < -0.05 if below else values > 0.05))
        if len(cells):
            return tuple(int(v) for v in pick(rng, cells, cells[0]))
    return tuple(int(v) for v in rng.integers(0, values.shape))


def _pre_activation(rng: np.random.Generator, source: Source):
    """(z, where it is, origin, the model's own function and slope or None)."""
    stage = first_stage(source.trace, "activation")
    if stage is not None:
        values, prev = source.trace.input_of(stage.name), source.trace.previous(stage.name)
        # Where the input has ink: away from each map's background value (its median, the
        # bias alone on a blank background).
        background = np.median(values, axis=(1, 2), keepdims=True)
        c, i, j = _cell_of_sign(rng, values, np.abs(values - background) > 0.05)
        z = float(rounded(values[c, i, j], 2))
        where = f"Your input's {prev} map, channel {c}, cell ({i}, {j}), holds (rounded to 2 "
        own = stage.params["function"], float(stage.params.get("negative_slope", 0.01))
        return z, where + f"decimals) z = {num(z, 2)}.", FROM_INPUT, own
    toy_map = source.toy_map()
    if toy_map is not None:
        i, j = _cell_of_sign(rng, toy_map)
        z = float(rounded(toy_map[i, j], 2))
        return z, f"The toy's conv map, cell ({i}, {j}), holds z = {num(z, 2)}.", FROM_TOY, None
    z = float(np.round(rng.uniform(-3, 3), 1)) or 0.5
    return z, f"A conv output cell holds z = {num(z)}.", FROM_RANDOM, None


@register("activation", "An activation function on one value")
def activation(rng: np.random.Generator, source: Source) -> Exercise:
    """An activation of a pre-activation value z (from the map before the learner's model's
    activation, else the toy's conv map): half the time the model's own function."""
    z, where, origin, own = _pre_activation(rng, source)
    name, slope = str(rng.choice(list(ACTIVATION_FORMULAS))), 0.1
    if own is not None and own[0] in ACTIVATION_FORMULAS and rng.random() < 0.5:
        (name, slope), where = own, where + " It is your model's own function:"
    args = {"negative_slope": slope} if name == "leaky_relu" else {}
    value = float(getattr(activations, name)(np.array([z]), **args)[0])
    formula, filled = (f.replace("{a}", num(slope)) for f in ACTIVATION_FORMULAS[name])
    label = activations.ACTIVATIONS[name].label
    prompt = f"{where} What does {label} make of it?"
    solution = f"{label}(z) = {formula} = {filled.format(z=num(z))} = **{num(value)}**."
    tolerance = 0.01 if abs(value) >= 0.1 else 0.001
    return Exercise("activation", prompt, value, solution, "number", tolerance, origin=origin)


def _crop_of_input(rng: np.random.Generator, source: Source):
    """A 5x5 piece (rows and columns from even offsets) of the map the learner's model's first
    pooling reads, in one of its busiest channels and places, rounded to 1 decimal; None
    without a trace or when that map is smaller than 5x5."""
    stage = first_stage(source.trace, "pool")
    if stage is None:
        return None
    maps, prev = source.trace.input_of(stage.name), source.trace.previous(stage.name)
    if maps.ndim != 3 or min(maps.shape[1:]) < 5:
        return None
    c = strongest(rng, maps.sum(axis=(1, 2)), among=3)[0]
    tops = range(0, maps.shape[1] - 4, 2)
    lefts = range(0, maps.shape[2] - 4, 2)
    sums = np.array([[maps[c, r : r + 5, q : q + 5].sum() for q in lefts] for r in tops])
    r, q = (2 * v for v in strongest(rng, sums, among=6))
    where = (
        f"This 5x5 piece of your input's {prev} map, channel {c} (rows {r}..{r + 4}, columns "
        f"{q}..{q + 4}, rounded to 1 decimal), taken as a map of its own:"
    )
    return rounded(maps[c, r : r + 5, q : q + 5], 1)[None], where, FROM_INPUT


def _pool_setup(rng: np.random.Generator, source: Source, partial: bool):
    """(map (1, H, W), where it is from, origin, output cell, its window) for a 2x2 window at
    stride 2 with ceil_mode: from the learner's input, else the toy's conv map (at most 7x7),
    else 5x5 random whole numbers; with ``partial`` a cell whose window hangs past the edge
    when the map has one, and preferably a window that is not all zeros."""
    found, toy_map = _crop_of_input(rng, source), source.toy_map()
    if found is not None:
        x, where, origin = found
    elif toy_map is not None and min(toy_map.shape) >= 2:
        x, where, origin = toy_map[None, :7, :7], "The toy's conv map:", FROM_TOY
    else:
        x, where = rng.integers(0, 10, size=(1, 5, 5)).astype(np.float64), "This map:"
        origin = FROM_RANDOM
    size = x.shape[1:]
    out = ops.max_pool2d(x, 2, 2, ceil_mode=True)[0]
    cells = [(i, j) for i in range(out.shape[0]) for j in range(out.shape[1])]
    boxes = {cell: ops.pool_window(*cell, (2, 2), (2, 2), (0, 0), size) for cell in cells}
    edge = [c for c in cells if (boxes[c][2] - boxes[c][0]) * (boxes[c][3] - boxes[c][1]) < 4]
    busy = [c for c in (edge if partial and edge else cells) if out[c] != 0]
    row, col = pick(rng, busy, pick(rng, edge if partial and edge else cells, (0, 0)))
    return x, where, origin, row, col, boxes[(row, col)]


def _pool_question(mode: str, x, row: int, col: int, box, where: str):
    """(value of output cell (row, col), the window's cells, the prompt) for ``mode`` "max" or
    "avg" pooling of ``x`` (1, H, W) with a 2x2 window, stride 2 and ceil_mode."""
    pooled = (ops.max_pool2d if mode == "max" else ops.avg_pool2d)(x, 2, 2, ceil_mode=True)
    value = float(pooled[0, row, col])
    cells = x[0, box[0] : box[2], box[1] : box[3]].ravel()
    name = "Max" if mode == "max" else "Average"
    (h, w), (oh, ow) = x.shape[1:], pooled.shape[1:]
    prompt = (
        f"{where} {name} pooling with a 2x2 window, stride 2 and `ceil_mode=True` turns this "
        f"{h}x{w} map into {oh}x{ow}. What is output cell ({row}, {col})?"
    )
    return value, cells, prompt


def _window_words(row, col, box) -> str:
    top, left, bottom, right = box
    part = (
        " (a partial window: it hangs past the edge)" if (bottom - top) * (right - left) < 4 else ""
    )
    return (
        f"output cell ({row}, {col}) reads rows {top}..{bottom - 1} and columns "
        f"{left}..{right - 1}{part}"
    )


@register("max_pool", "A max-pooled window")
def max_pool(rng: np.random.Generator, source: Source) -> Exercise:
    """The maximum of one 2x2 window (stride 2, ceil_mode, so the edge windows are partial)."""
    x, where, origin, row, col, box = _pool_setup(rng, source, partial=rng.random() < 0.5)
    value, cells, prompt = _pool_question("max", x, row, col, box, where)
    solution = (
        f"{_window_words(row, col, box).capitalize()}: max({', '.join(num(v) for v in cells)}) "
        f"= **{num(value)}**."
    )
    return Exercise("max_pool", prompt, value, solution, "number", 0.0, (("map", x[0]),), origin)


@register("avg_pool", "An average-pooled window (ceil_mode)")
def avg_pool(rng: np.random.Generator, source: Source) -> Exercise:
    """The mean of a partial 2x2 window with ceil_mode: the divisor counts only the cells in the
    map (PyTorch never counts the part past the edge), to within 0.01."""
    x, where, origin, row, col, box = _pool_setup(rng, source, partial=True)
    value, cells, prompt = _pool_question("avg", x, row, col, box, where)
    solution = (
        f"{_window_words(row, col, box).capitalize()}. Only the {cells.size} cells inside the "
        f"map are averaged (no padding, and the part past the edge is not counted): "
        f"({' + '.join(num(v) for v in cells)}) / {cells.size} = {num(cells.sum())} / "
        f"{cells.size} = **{num(value)}**."
    )
    grids = (("map", x[0]),)
    return Exercise("avg_pool", prompt, value, solution, "number", 0.01, grids, origin)


def _flatten_input(source: Source):
    """(the (C, H, W) maps the learner's flatten stage reads, their stage's name), or None."""
    stage = first_stage(source.trace, "flatten")
    if stage is None:
        return None
    maps = source.trace.input_of(stage.name)
    return (maps, source.trace.previous(stage.name)) if maps.ndim == 3 else None


def _random_shape(rng: np.random.Generator) -> tuple[int, int, int]:
    return int(rng.integers(2, 9)), int(rng.integers(3, 8)), int(rng.integers(3, 8))


@register("flat_index", "Flat index of (c, h, w)")
def flat_index(rng: np.random.Generator, source: Source) -> Exercise:
    """The position of cell (c, h, w) of a (C, H, W) stack in the flattened vector: one of the
    strongest cells of the maps the learner's flatten stage reads, else a random stack."""
    found = _flatten_input(source)
    if found is not None:
        maps, prev = found
        shape = c_, h_, w_ = maps.shape
        c, h, w = strongest(rng, maps)
        where = (
            f"Your input's {prev} maps, (C, H, W) = ({c_}, {h_}, {w_}), are flattened in "
            f"PyTorch's order. Cell (c, h, w) = ({c}, {h}, {w}) holds {num(maps[c, h, w])}, one "
            "of the largest values."
        )
        prompt = f"{where} At which index i (from 0) of the flattened vector is it?"
    else:
        shape = c_, h_, w_ = _random_shape(rng)
        c, h, w = int(rng.integers(c_)), int(rng.integers(h_)), int(rng.integers(w_))
        prompt = (
            f"A stack of {c_} maps of {h_}x{w_} (C, H, W) = ({c_}, {h_}, {w_}) is flattened in "
            f"PyTorch's order. At which index i (from 0) is cell (c, h, w) = ({c}, {h}, {w})?"
        )
    i = ops.flat_index(c, h, w, shape)
    solution = (
        f"i = c·H·W + h·W + w = {c}·{h_}·{w_} + {h}·{w_} + {w} = {c * h_ * w_} + {h * w_} + {w} "
        f"= **{i}**."
    )
    origin = FROM_RANDOM if found is None else FROM_INPUT
    return Exercise("flat_index", prompt, i, solution, "whole", origin=origin)


@register("unflat_index", "(c, h, w) of a flat index")
def unflat_index(rng: np.random.Generator, source: Source) -> Exercise:
    """The (c, h, w) that index i of the flattened vector came from: one of the largest values
    of the learner's flattened vector, else a random index of a random stack."""
    found = _flatten_input(source)
    if found is not None:
        maps, prev = found
        shape = c_, h_, w_ = maps.shape
        i = strongest(rng, maps.ravel())[0]
        prompt = (
            f"Your input's {prev} maps, (C, H, W) = ({c_}, {h_}, {w_}), are flattened in "
            f"PyTorch's order; index i = {i} of the vector holds {num(maps.ravel()[i])}. Which "
            "cell (c, h, w) did it come from?"
        )
    else:
        shape = c_, h_, w_ = _random_shape(rng)
        i = int(rng.integers(c_ * h_ * w_))
        prompt = (
            f"A stack of maps of shape (C, H, W) = ({c_}, {h_}, {w_}) is flattened in PyTorch's "
            f"order. Which cell (c, h, w) is at index i = {i}?"
        )
    c, h, w = ops.unflat_index(i, shape)
    rest = i - c * h_ * w_
    solution = (
        f"c = i // (H·W) = {i} // {h_ * w_} = {c}, remainder {rest}; h = {rest} // W = {rest} // "
        f"{w_} = {h}; w = {rest} % {w_} = {w}. So **(c, h, w) = ({c}, {h}, {w})**."
    )
    origin = FROM_RANDOM if found is None else FROM_INPUT
    return Exercise("unflat_index", prompt, (c, h, w), solution, "triple", origin=origin)


def _logits(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct logits with one decimal (no tie for first place)."""
    while True:
        z = np.round(rng.uniform(-2, 3, size=n), 1)
        if len(set(z.tolist())) == n:
            return z


def _logits_of(rng: np.random.Generator, source: Source, n: int):
    """(logits as the question shows them, their words, origin): the learner's logits rounded
    so that no tie for first place appears, else the Dense page's toy layer's (when one class
    leads), else n random ones."""
    for z, words, origin in (
        (None if source.trace is None else source.trace.logits, "Your input's logits", FROM_INPUT),
        (source.toy_logits, "The Dense page's toy layer gives the logits", FROM_TOY),
    ):
        if z is not None and np.size(z) >= 2:
            d = distinct_decimals(z)
            shown = rounded(np.ravel(z), d)
            if np.sum(shown == shown.max()) == 1:
                words += f" (rounded to {d} decimal{'s' if d > 1 else ''})"
                return shown, words, origin
    return _logits(rng, n), f"{n} classes have the logits", FROM_RANDOM


def _listed(z: np.ndarray) -> str:
    return f"z = ({', '.join(num(v, 4) for v in z)}) for classes 0 to {len(z) - 1}"


def _power(v: float) -> str:
    """e^x values as the solution prints them: 4 significant digits."""
    return f"{v:.4g}"


@register("softmax", "Softmax probability with temperature T")
def softmax(rng: np.random.Generator, source: Source) -> Exercise:
    """p_k = e^(z_k/T) / Σ_j e^(z_j/T) for the learner's logits (else the toy's, else four
    random ones) at a temperature; the class is the winner or another one, to within 0.01."""
    z, words, origin = _logits_of(rng, source, 4)
    t = float(rng.choice([0.5, 1.0, 2.0, 5.0, 10.0] if origin == FROM_INPUT else [0.5, 1, 2, 5]))
    k = int(np.argmax(z)) if rng.random() < 0.4 else int(rng.integers(len(z)))
    p = ops.softmax(z, t)
    e = np.exp(z / t)
    prompt = (
        f"{words} {_listed(z)}. At temperature T = {num(t)}, what is the probability of "
        f"{source.class_label(k) if origin == FROM_INPUT else f'class {k}'}?"
    )
    terms = " + ".join(f"e^({num(v, 4)}/{num(t)})" for v in z)
    solution = (
        f"p_{k} = e^(z_{k}/T) / Σ_j e^(z_j/T) = e^({num(z[k], 4)}/{num(t)}) / ({terms}) = "
        f"{_power(e[k])} / {_power(e.sum())} = **{num(p[k], 3)}**."
    )
    return Exercise("softmax", prompt, float(p[k]), solution, "number", 0.01, origin=origin)


@register("argmax", "Which class wins")
def argmax(rng: np.random.Generator, source: Source) -> Exercise:
    """The winning class of the learner's logits (else the toy's, else five random ones) at some
    temperature: always the largest logit."""
    z, words, origin = _logits_of(rng, source, 5)
    t = float(rng.choice([0.2, 0.5, 2.0, 10.0]))
    p = ops.softmax(z, t)
    win = int(np.argmax(p))
    prompt = (
        f"{words} {_listed(z)}. After softmax at temperature T = {num(t)}, which class has the "
        "highest probability? Type its number."
    )
    name = source.class_label(win) if origin == FROM_INPUT else f"class {win}"
    solution = (
        f"Dividing by T > 0 and taking e^x both keep the order, so the largest logit wins at "
        f"any temperature: z_{win} = {num(z[win], 4)}, **{name}** (p = {num(p[win], 3)} at "
        f"T = {num(t)}; T only makes the probabilities sharper or flatter)."
    )
    return Exercise("argmax", prompt, win, solution, "whole", origin=origin)
