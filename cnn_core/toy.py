"""Toy examples small enough to check by hand, kernel presets, and grids typed in as text.

Every stage page offers the same toy: a 7x7 image of 0s and 1s and a 3x3 kernel of 0s and 1s.
Learners edit them as text (one row per line, numbers separated by spaces or commas), so
``parse_grid`` treats the text as untrusted and explains every refusal in words.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import ops


def picture(*rows: str) -> np.ndarray:
    """A small grid of single digits drawn as text, one string per row: picture("010", "111")
    -> [[0, 1, 0], [1, 1, 1]] float32. For grids written in the code, where the text shows the
    shape (a learner's typed grid goes through ``parse_grid``)."""
    return np.array([[int(ch) for ch in row] for row in rows], dtype=np.float32)


# A 7x7 "7": a top bar and a diagonal stroke, so edge kernels give visibly different answers.
TOY_IMAGE = picture(
    "0000000",
    "0111110",
    "0000100",
    "0001000",
    "0011100",
    "0010000",
    "0000000",
)

# A 3x3 kernel of 0s and 1s: an "X" that answers most on diagonal strokes.
TOY_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)


def toy_features() -> np.ndarray:
    """The dense toy's input x: the toy image convolved with the toy kernel (no padding, stride
    1, no bias), max-pooled 2x2 and flattened, as one row (1, 4)."""
    conv = ops.conv2d(TOY_IMAGE[None], TOY_KERNEL[None, None], np.zeros(1, np.float32))  # (1, 5, 5)
    x = ops.flatten(ops.max_pool2d(conv, 2))[None]  # (1, 2, 2) -> (1, 4)
    return x.astype(np.float32)


# The Dense page's toy layer: W has one row per class (3 classes), b one bias per class; its
# input x is toy_features() (4 features).
DENSE_TOY_W = np.array([[1, 0, -1, 0.5], [0, 1, 0, -1], [-0.5, 0.5, 1, 0]], dtype=np.float32)
DENSE_TOY_B = np.array([[0, 1, -0.5]], dtype=np.float32)

# Named kernels for the kernel editor (all 3x3, as float32).
KERNEL_PRESETS: dict[str, np.ndarray] = {
    name: np.asarray(values, dtype=np.float32)
    for name, values in {
        "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        "horizontal edge": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
        "vertical edge": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
        "all edges (Laplacian)": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
        "Sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
        "Sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        "box blur": [[1 / 9] * 3] * 3,
        "Gaussian blur": (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16).tolist(),
        "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
        "toy X (0s and 1s)": TOY_KERNEL.tolist(),
    }.items()
}

MAX_TEXT = 4_000  # characters; a 14x14 grid of "-0.1234" needs about 1,400
LIMIT = 1e6  # |value| above this is refused: it would only overflow float32 maps downstream
_SPLIT = re.compile(r"[\s,;]+")


def parse_grid(
    text: str,
    *,
    name: str = "grid",
    max_size: int = 14,
    shape: tuple[int, int] | None = None,
    limit: float = LIMIT,
) -> np.ndarray:
    """Text with one row per line -> a float32 (rows, cols) array, or ValueError saying why.

    Refuses: empty text or empty rows, rows of different lengths, words that are not numbers,
    NaN, infinities, values beyond ``limit`` in size, grids larger than ``max_size`` on a side,
    and a grid that is not ``shape`` when one is required.
    """
    # Long on purpose (issue 11): one check after another on untrusted text, each with its own
    # sentence, in the order a learner would fix them; split up, the order would be harder to see.
    if not isinstance(text, str):
        raise ValueError(f"The {name} must be text: one row per line.")
    if len(text) > MAX_TEXT:
        raise ValueError(
            f"The {name} text is too long ({len(text):,} characters; at most {MAX_TEXT:,})."
        )
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or lines == [""]:
        raise ValueError(f"The {name} is empty: type one row of numbers per line.")
    rows: list[list[float]] = []
    for r, line in enumerate(lines, start=1):
        words = [w for w in _SPLIT.split(line) if w]
        if not words:
            raise ValueError(f"Row {r} of the {name} is empty: every row needs numbers.")
        values = []
        for c, word in enumerate(words, start=1):
            try:
                value = float(word)
            except ValueError:
                raise ValueError(
                    f"Row {r}, column {c} of the {name} is '{word[:20]}', which is not a number."
                ) from None
            if math.isnan(value):
                raise ValueError(f"Row {r}, column {c} of the {name} is NaN (not a number).")
            if math.isinf(value):
                raise ValueError(f"Row {r}, column {c} of the {name} is infinite.")
            if abs(value) > limit:
                raise ValueError(
                    f"Row {r}, column {c} of the {name} is {value:g}; keep values within "
                    f"±{limit:g} so the maps stay finite."
                )
            values.append(value)
        rows.append(values)
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        lengths = ", ".join(str(len(r)) for r in rows)
        raise ValueError(
            f"The rows of the {name} have different lengths ({lengths}); "
            "every row needs the same number of values."
        )
    n_rows, n_cols = len(rows), widths.pop()
    if n_rows > max_size or n_cols > max_size:
        raise ValueError(
            f"The {name} is {n_rows}x{n_cols}; at most {max_size}x{max_size} fits on the page."
        )
    if shape is not None and (n_rows, n_cols) != tuple(shape):
        raise ValueError(
            f"The {name} must be {shape[0]}x{shape[1]}; this one is {n_rows}x{n_cols}."
        )
    return np.asarray(rows, dtype=np.float32)


def format_grid(grid: np.ndarray, digits: int = 4) -> str:
    """A 2-D array as editable text: one row per line, shortest exact-enough numbers."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 2:
        raise ValueError(f"Expected a 2-D grid, got shape {grid.shape}.")

    def word(v: float) -> str:
        text = f"{v:.{digits}g}"
        return "0" if text in ("-0", "0") else text

    return "\n".join(" ".join(word(v) for v in row) for row in grid)
