"""Exercise generators with fresh numbers from a seed (cnn_core.exercises.make): output size
(invalid ones too), a conv output cell from its patch and kernel, an activation, a max- and an
average-pooled window (a partial one with ceil_mode), the flat index of (c, h, w) and back, a
softmax probability with temperature T, and which class wins. Every answer comes from
cnn_core.ops; the worked solution prints the formula with the same numbers."""

from __future__ import annotations

import numpy as np

from . import activations, conv_lab, ops
from .exercises import Exercise, num, register

FLOOR = "⌊", "⌋"


def _size_exercise(size, k, s, p, d) -> Exercise:
    """The output length of one axis for these settings, or None when the kernel does not fit."""
    prompt = (
        f"A convolution with kernel size k = {k}, stride s = {s}, padding p = {p} and dilation "
        f"d = {d} slides over an input of height H = {size}. What is the output height? Type "
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
        return Exercise("output_size", prompt, None, solution, "size")
    solution = (
        f"{formula} = ⌊({size} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = "
        f"⌊{out.numerator} / {s}⌋ + 1 = {out.numerator // s} + 1 = **{out.out}**."
    )
    if out.leftover:
        solution += f" The last {out.leftover} padded row(s) are never under the kernel."
    return Exercise("output_size", prompt, out.out, solution, "size")


@register("output_size", "Output size of a convolution")
def output_size(rng: np.random.Generator) -> Exercise:
    """Mostly a size that works; one time in four a kernel wider than the padded input."""
    d = int(rng.choice([1, 1, 1, 2]))
    if rng.random() < 0.25:  # no output: the dilated kernel is wider than the padded input
        size, p = int(rng.integers(3, 7)), int(rng.integers(0, 2))
        k = int(rng.integers((size + 2 * p) // d + 2, (size + 2 * p) // d + 4))
        return _size_exercise(size, k, int(rng.integers(1, 3)), p, d)
    size, k = int(rng.integers(6, 33)), int(rng.choice([1, 2, 3, 3, 5, 5, 7]))
    return _size_exercise(size, k, int(rng.integers(1, 4)), int(rng.integers(0, 3)), d)


def products_text(patch, kernel) -> str:
    """'a·b + c·d + ...' of the element-wise products, in reading order."""
    pairs = zip(np.ravel(patch), np.ravel(kernel), strict=True)
    return " + ".join(f"{num(x)}·{num(w)}" if w >= 0 else f"{num(x)}·({num(w)})" for x, w in pairs)


@register("conv_cell", "One output cell of a convolution")
def conv_cell(rng: np.random.Generator) -> Exercise:
    """A 3x3 patch of small whole numbers, a kernel of -1/0/1 and a bias: out = b + Σ x·w."""
    x = rng.integers(0, 4, size=(1, 5, 5)).astype(np.float32)  # (C_in=1, 5, 5)
    w = rng.integers(-1, 2, size=(1, 1, 3, 3)).astype(np.float32)  # (C_out, C_in, 3, 3)
    b = np.array([int(rng.integers(-2, 3))], dtype=np.float32)
    row, col = (int(v) for v in rng.integers(0, 3, size=2))
    step = ops.conv2d_at(x, w, b, 1, 0, 0, row, col)
    prompt = (
        f"The kernel sits on the patch below (output cell ({row}, {col}) of a 5x5 input, stride "
        f"1). The bias is b = {num(step.bias)}. What is the output cell's value?"
    )
    solution = (
        f"out = b + Σ patch·kernel = {num(step.bias)} + ({products_text(step.patch, step.kernel)})"
        f" = {num(step.bias)} + {num(step.channel_sums.sum())} = **{num(step.value)}**."
    )
    grids = (("patch x", step.patch[0]), ("kernel w", step.kernel[0]))
    return Exercise("conv_cell", prompt, step.value, solution, "number", 0.0, grids)


ACTIVATION_FORMULAS = {
    "relu": ("max(0, z)", "max(0, {z})"),
    "leaky_relu": ("z if z > 0 else a·z (a = 0.1)", "{z} if {z} > 0 else 0.1·({z})"),
    "sigmoid": ("1 / (1 + e^(−z))", "1 / (1 + e^(−({z})))"),
    "tanh": ("(e^z − e^(−z)) / (e^z + e^(−z))", "tanh({z})"),
}


@register("activation", "An activation function on one value")
def activation(rng: np.random.Generator) -> Exercise:
    """An activation of a pre-activation value z, to within 0.01."""
    name = str(rng.choice(list(ACTIVATION_FORMULAS)))
    z = float(np.round(rng.uniform(-3, 3), 1)) or 0.5
    args = {"negative_slope": 0.1} if name == "leaky_relu" else {}
    value = float(getattr(activations, name)(np.array([z]), **args)[0])
    formula, filled = ACTIVATION_FORMULAS[name]
    label = activations.ACTIVATIONS[name].label
    prompt = f"A conv output cell holds z = {num(z)}. What does {label} make of it?"
    solution = f"{label}(z) = {formula} = {filled.format(z=num(z))} = **{num(value)}**."
    return Exercise("activation", prompt, value, solution, "number", 0.01)


def _pool_setup(rng: np.random.Generator, partial: bool):
    """A 5x5 map of whole numbers, a 2x2 window at stride 2 with ceil_mode (3x3 output), and
    an output cell; with ``partial`` one whose window hangs past the edge."""
    x = rng.integers(0, 10, size=(1, 5, 5)).astype(np.float32)
    row, col = (int(v) for v in rng.integers(0, 3, size=2))
    if partial and row < 2 and col < 2:
        row, col = (2, col) if rng.random() < 0.5 else (row, 2)
    top, left, bottom, right = ops.pool_window(row, col, (2, 2), (2, 2), (0, 0), (5, 5))
    return x, row, col, (top, left, bottom, right)


def _pool_question(mode: str, x, row: int, col: int, box):
    """(value of output cell (row, col), the window's cells, the prompt) for ``mode`` "max" or
    "avg" pooling of ``x`` (1, 5, 5) with a 2x2 window, stride 2 and ceil_mode."""
    pool = ops.max_pool2d if mode == "max" else ops.avg_pool2d
    value = float(pool(x, 2, 2, ceil_mode=True)[0, row, col])
    cells = x[0, box[0] : box[2], box[1] : box[3]].ravel()
    name = "Max" if mode == "max" else "Average"
    prompt = (
        f"{name} pooling with a 2x2 window, stride 2 and `ceil_mode=True` turns this 5x5 map "
        f"into 3x3. What is output cell ({row}, {col})?"
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
def max_pool(rng: np.random.Generator) -> Exercise:
    """The maximum of one 2x2 window (stride 2, ceil_mode, so the edge windows are partial)."""
    x, row, col, box = _pool_setup(rng, partial=rng.random() < 0.5)
    value, cells, prompt = _pool_question("max", x, row, col, box)
    solution = (
        f"{_window_words(row, col, box).capitalize()}: max({', '.join(num(v) for v in cells)}) "
        f"= **{num(value)}**."
    )
    return Exercise("max_pool", prompt, value, solution, "number", 0.0, (("map", x[0]),))


@register("avg_pool", "An average-pooled window (ceil_mode)")
def avg_pool(rng: np.random.Generator) -> Exercise:
    """The mean of a partial 2x2 window with ceil_mode: the divisor counts only the cells in the
    map (PyTorch never counts the part past the edge), to within 0.01."""
    x, row, col, box = _pool_setup(rng, partial=True)
    value, cells, prompt = _pool_question("avg", x, row, col, box)
    solution = (
        f"{_window_words(row, col, box).capitalize()}. Only the {cells.size} cells inside the "
        f"map are averaged (no padding, and the part past the edge is not counted): "
        f"({' + '.join(num(v) for v in cells)}) / {cells.size} = {num(cells.sum())} / "
        f"{cells.size} = **{num(value)}**."
    )
    return Exercise("avg_pool", prompt, value, solution, "number", 0.01, (("map", x[0]),))


def _random_shape(rng: np.random.Generator) -> tuple[int, int, int]:
    return int(rng.integers(2, 9)), int(rng.integers(3, 8)), int(rng.integers(3, 8))


@register("flat_index", "Flat index of (c, h, w)")
def flat_index(rng: np.random.Generator) -> Exercise:
    """The position of cell (c, h, w) of a (C, H, W) stack in the flattened vector."""
    shape = c_, h_, w_ = _random_shape(rng)
    c, h, w = int(rng.integers(c_)), int(rng.integers(h_)), int(rng.integers(w_))
    i = ops.flat_index(c, h, w, shape)
    prompt = (
        f"A stack of {c_} maps of {h_}x{w_} (C, H, W) = ({c_}, {h_}, {w_}) is flattened in "
        f"PyTorch's order. At which index i (from 0) is cell (c, h, w) = ({c}, {h}, {w})?"
    )
    solution = (
        f"i = c·H·W + h·W + w = {c}·{h_}·{w_} + {h}·{w_} + {w} = {c * h_ * w_} + {h * w_} + {w} "
        f"= **{i}**."
    )
    return Exercise("flat_index", prompt, i, solution, "whole")


@register("unflat_index", "(c, h, w) of a flat index")
def unflat_index(rng: np.random.Generator) -> Exercise:
    """The (c, h, w) that index i of the flattened vector came from."""
    shape = c_, h_, w_ = _random_shape(rng)
    i = int(rng.integers(c_ * h_ * w_))
    c, h, w = ops.unflat_index(i, shape)
    rest = i - c * h_ * w_
    prompt = (
        f"A stack of maps of shape (C, H, W) = ({c_}, {h_}, {w_}) is flattened in PyTorch's "
        f"order. Which cell (c, h, w) is at index i = {i}?"
    )
    solution = (
        f"c = i // (H·W) = {i} // {h_ * w_} = {c}, remainder {rest}; h = {rest} // W = {rest} // "
        f"{w_} = {h}; w = {rest} % {w_} = {w}. So **(c, h, w) = ({c}, {h}, {w})**."
    )
    return Exercise("unflat_index", prompt, (c, h, w), solution, "triple")


def _logits(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct logits with one decimal (no tie for first place)."""
    while True:
        z = np.round(rng.uniform(-2, 3, size=n), 1)
        if len(set(z.tolist())) == n:
            return z


@register("softmax", "Softmax probability with temperature T")
def softmax(rng: np.random.Generator) -> Exercise:
    """p_k = e^(z_k/T) / Σ_j e^(z_j/T) for four logits and a temperature, to within 0.01."""
    z, t = _logits(rng, 4), float(rng.choice([0.5, 1.0, 2.0, 5.0]))
    k = int(rng.integers(4))
    p = ops.softmax(z, t)
    e = np.exp(z / t)
    prompt = (
        f"Four classes have logits z = ({', '.join(num(v) for v in z)}). At temperature T = "
        f"{num(t)}, what is the probability of class {k}?"
    )
    terms = " + ".join(f"e^({num(v)}/{num(t)})" for v in z)
    solution = (
        f"p_{k} = e^(z_{k}/T) / Σ_j e^(z_j/T) = e^({num(z[k])}/{num(t)}) / ({terms}) = "
        f"{num(e[k], 3)} / {num(e.sum(), 3)} = **{num(p[k], 3)}**."
    )
    return Exercise("softmax", prompt, float(p[k]), solution, "number", 0.01)


@register("argmax", "Which class wins")
def argmax(rng: np.random.Generator) -> Exercise:
    """The winning class of five logits at some temperature: always the largest logit."""
    z, t = _logits(rng, 5), float(rng.choice([0.2, 0.5, 2.0, 10.0]))
    p = ops.softmax(z, t)
    win = int(np.argmax(p))
    prompt = (
        f"Five classes (0 to 4) have logits z = ({', '.join(num(v) for v in z)}). After softmax "
        f"at temperature T = {num(t)}, which class has the highest probability?"
    )
    solution = (
        f"Dividing by T > 0 and taking e^x both keep the order, so the largest logit wins at "
        f"any temperature: z_{win} = {num(z[win])}, **class {win}** (p = {num(p[win], 3)} at "
        f"T = {num(t)}; T only makes the probabilities sharper or flatter)."
    )
    return Exercise("argmax", prompt, win, solution, "whole")
