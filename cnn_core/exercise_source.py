"""What an exercise is made from: the learner's own input through the model in use (a Trace), or
the page's toy grids, or (with neither) fresh random numbers.

``Source`` is plain data the page hands to ``exercises.make``; the generators in
cnn_core/exercise_kinds.py take the numbers they need from it (a patch of the drawing and the
model's kernel, a value of a feature map, a window of the activation map, the flatten stage's
shape, the logits) and say in the question where the numbers come from. Numbers a learner has to
work with by hand are rounded (the question says to how many decimals), and the answer is
computed from the rounded numbers the learner sees, by cnn_core.ops.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import ops
from .trace import Trace

# Where an exercise's numbers came from, as the page names it.
FROM_INPUT = "your input"
FROM_TOY = "the toy"
FROM_RANDOM = "random numbers"
FROM_CLASSIC = "a classic worked example"


@dataclass(frozen=True, eq=False)
class Source:
    """The numbers exercises may use; every field is optional."""

    trace: Trace | None = None  # the learner's input through the model in use
    toy_image: np.ndarray | None = None  # the page's toy input, 2-D
    toy_kernel: np.ndarray | None = None  # the page's toy kernel, 2-D
    toy_logits: np.ndarray | None = None  # the Dense page's toy layer output W·x + b, 1-D
    class_names: tuple[str, ...] = ()  # of the model in use, for the softmax questions

    @property
    def tag(self) -> str:
        """A short digest of the numbers exercises are made from: the learner's input and
        logits when there is a trace (the generators then use nothing else), else the toy
        grids. The same numbers, the same tag; another drawing, model or toy, another tag."""
        h = hashlib.sha1()
        if self.trace is not None:
            arrays = [self.trace.stages[0].output, self.trace.logits]
        else:
            arrays = [self.toy_image, self.toy_kernel, self.toy_logits]
        for a in arrays:
            h.update(b"-" if a is None else np.ascontiguousarray(a, np.float32).tobytes())
        return h.hexdigest()[:10]

    def toy_map(self) -> np.ndarray | None:
        """The toy image convolved with the toy kernel (stride 1, no padding), 2-D; None
        without both grids or when the kernel is larger than the image."""
        if self.toy_image is None or self.toy_kernel is None:
            return None
        image, kernel = np.asarray(self.toy_image), np.asarray(self.toy_kernel)
        if image.ndim != 2 or kernel.ndim != 2:
            return None
        if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
            return None
        return ops.conv2d(image[None], kernel[None, None])[0]

    def class_label(self, k: int) -> str:
        """'class 3' or, with names, 'class 3 (Dress)'."""
        if 0 <= k < len(self.class_names) and self.class_names[k] != str(k):
            return f"class {k} ({self.class_names[k]})"
        return f"class {k}"


def first_stage(trace: Trace | None, kind: str):
    """The first stage of ``kind`` in the trace, or None (no trace, or no such stage)."""
    if trace is None:
        return None
    stages = trace.by_kind(kind)
    return stages[0] if stages else None


def pick(rng: np.random.Generator, candidates, fallback):
    """One of ``candidates`` (a sequence) chosen by ``rng``, or ``fallback`` when it is empty."""
    if len(candidates) == 0:
        return fallback
    return candidates[int(rng.integers(len(candidates)))]


def strongest(rng: np.random.Generator, values: np.ndarray, among: int = 8) -> tuple[int, ...]:
    """The index (a tuple) of one of the ``among`` largest values of ``values``, chosen by
    ``rng``: a cell where the learner's input left a mark."""
    flat = np.asarray(values).ravel()
    order = np.argsort(-flat, kind="stable")[: max(1, min(among, flat.size))]
    return tuple(int(v) for v in np.unravel_index(int(pick(rng, order, order[0])), values.shape))


def rounded(values, decimals: int) -> np.ndarray:
    """``values`` rounded as the question shows them, float64 (no -0)."""
    return np.round(np.asarray(values, np.float64), decimals) + 0.0


def distinct_decimals(values, start: int = 1, most: int = 4) -> int:
    """The fewest decimals (from ``start``) at which the largest value stays the only largest
    after rounding: rounded logits must not invent a tie for first place."""
    for d in range(start, most + 1):
        r = rounded(values, d)
        if np.sum(r == r.max()) == 1:
            return d
    return most
