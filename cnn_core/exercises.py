"""Predict, then reveal: exercises made from a seed, checked with a stated tolerance, and a worked
solution whose numbers come from cnn_core.ops.

An ``Exercise`` is plain data: the question (Markdown and small named grids), what kind of answer
it expects, the answer, the tolerance, the worked solution with the formula filled in, and where
its numbers came from. The generators live in cnn_core/exercise_kinds.py (made from the learner's
input through the model, else the page's toy, else random numbers: a ``Source``,
cnn_core/exercise_source.py) and cnn_core/exercise_classics.py (the classic worked examples);
``make(kind, seed, source)`` builds any of them, the same for the same seed and source, so a
link's seed and drawing give a class the same exercises. ``check`` reads a typed answer:
text that is not an answer raises ``AnswerError`` with a sentence saying what to type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .exercise_source import FROM_RANDOM, Source

Answer = float | int | tuple[int, ...] | None

# What an exercise expects: how typed text is read.
EXPECTS = {
    "number": "a number (a fraction like 3/4 works too)",
    "whole": "a whole number",
    "size": "a whole number, or none when there is no output",
    "triple": "three whole numbers c, h, w",
}
NO_OUTPUT_WORDS = {"none", "no output", "no", "empty", "nothing", "-", "x"}


class AnswerError(ValueError):
    """Typed text that is not an answer of the expected kind; the message says what to type."""


@dataclass(frozen=True)
class Exercise:
    """One question, its answer and its worked solution."""

    kind: str  # a key of KINDS
    prompt: str  # the question, Markdown
    answer: Answer  # None: "no output" (an output-size exercise whose kernel does not fit)
    solution: str  # the worked solution, Markdown, the formula with the numbers filled in
    expects: str = "number"  # a key of EXPECTS
    tolerance: float = 0.0  # absolute tolerance for a number; 0: exact
    grids: tuple[tuple[str, np.ndarray], ...] = field(default=())  # (caption, 2-D array) shown
    origin: str = FROM_RANDOM  # where the numbers came from (exercise_source.FROM_*)

    @property
    def answer_text(self) -> str:
        """The answer as a learner would type it."""
        if self.answer is None:
            return "none (no output)"
        if isinstance(self.answer, tuple):
            return ", ".join(str(v) for v in self.answer)
        return num(self.answer)

    @property
    def tolerance_text(self) -> str:
        """How close an answer must be, in words."""
        if self.expects != "number" or self.tolerance == 0:
            return "exact"
        return f"within ±{num(self.tolerance)}"


@dataclass(frozen=True)
class Verdict:
    """The result of checking one typed answer."""

    correct: bool
    given: Answer  # the answer as read from the text
    message: str  # one sentence for the learner


def num(value, digits: int = 3) -> str:
    """A number as a worked solution prints it: whole numbers without decimals, else rounded to
    ``digits`` decimals (trailing zeros dropped)."""
    value = float(value)
    if abs(value - round(value)) < 1e-9:
        return str(int(round(value)))
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _read_number(text: str) -> float:
    """A float from typed text: 0.25, -1, 3/4, 1e-3; a decimal comma is accepted."""
    t = text.strip().replace(" ", "")
    if "," in t and "." not in t:
        t = t.replace(",", ".")
    try:
        if "/" in t:
            top, bottom = t.split("/", 1)
            value = float(top) / float(bottom)
        else:
            value = float(t)
    except (ValueError, ZeroDivisionError):
        raise AnswerError(
            f"'{text.strip()[:40]}' is not a number. Type a number such as 2, -0.75 or 3/4."
        ) from None
    if not math.isfinite(value):
        raise AnswerError("Type a finite number (not infinity or NaN).")
    return value


def _read_whole(text: str) -> int:
    value = _read_number(text) if text.strip() else None
    if value is None or abs(value - round(value)) > 1e-9:
        raise AnswerError(f"'{text.strip()[:40]}' is not a whole number. Type one such as 12.")
    return int(round(value))


def _read_triple(text: str) -> tuple[int, int, int]:
    if not re.fullmatch(r"[\s()\[\],;-]*(-?\d+[\s()\[\],;]+){2}-?\d+[\s()\[\],;]*", text):
        raise AnswerError("Type three whole numbers c, h, w separated by commas, such as 1, 2, 0.")
    c, h, w = (int(v) for v in re.findall(r"-?\d+", text))
    return c, h, w


def read_answer(expects: str, text: str) -> Answer:
    """The answer in typed text, or AnswerError saying what to type. Empty text is an error."""
    if not isinstance(text, str) or not text.strip():
        raise AnswerError(f"Type your answer first: {EXPECTS[expects]}.")
    if expects == "number":
        return _read_number(text)
    if expects == "whole":
        return _read_whole(text)
    if expects == "size":
        if text.strip().lower().rstrip(".!") in NO_OUTPUT_WORDS:
            return None
        return _read_whole(text)
    if expects == "triple":
        return _read_triple(text)
    raise ValueError(f"unknown answer kind {expects!r}; choose one of {', '.join(EXPECTS)}")


def check(exercise: Exercise, text: str) -> Verdict:
    """Check typed text against the exercise's answer (numbers within its tolerance, plus a
    rounding guard of 1e-9). AnswerError when the text is not an answer at all."""
    given = read_answer(exercise.expects, text)
    expected = exercise.answer
    if expected is None or given is None or isinstance(expected, tuple):
        correct = given == expected
    else:
        correct = abs(float(given) - float(expected)) <= exercise.tolerance + 1e-9
    if correct:
        return Verdict(True, given, "Right.")
    shown = (
        "none"
        if given is None
        else ", ".join(map(str, given))
        if isinstance(given, tuple)
        else num(given)
    )
    return Verdict(
        False, given, f"Not quite: you typed {shown}; the answer is {exercise.answer_text}."
    )


# ----------------------------------------------------------------------------------------------
# The kinds and the pages


@dataclass(frozen=True)
class Kind:
    """One kind of exercise: its label and its generator ((NumPy Generator, Source) ->
    Exercise)."""

    label: str
    make: Callable[[np.random.Generator, Source], Exercise]


KINDS: dict[str, Kind] = {}  # filled by exercise_kinds and exercise_classics on import


def register(name: str, label: str):
    """Decorator: add a generator to KINDS under ``name``."""

    def add(make):
        KINDS[name] = Kind(label, make)
        return make

    return add


def make(kind: str, seed: int | Sequence[int], source: Source | None = None) -> Exercise:
    """The exercise of ``kind`` for ``seed`` (an int or a sequence of ints), made from
    ``source`` (the learner's trace or the page's toy; random numbers without one): the same seed
    and source give the same exercise."""
    if kind not in KINDS:
        raise ValueError(f"unknown exercise kind {kind!r}; choose one of {', '.join(KINDS)}")
    return KINDS[kind].make(np.random.default_rng(seed), source or Source())


# ----------------------------------------------------------------------------------------------
# Worksheets


def grid_markdown(values) -> str:
    """A 2-D array as a Markdown table, rows and columns numbered from 0."""
    a = np.atleast_2d(np.asarray(values, dtype=np.float64))
    head = "| |" + "|".join(f" **{j}** " for j in range(a.shape[1])) + "|"
    rule = "|---|" + "|".join("---:" for _ in range(a.shape[1])) + "|"
    rows = [f"| **{i}** |" + "|".join(f" {num(v)} " for v in row) + "|" for i, row in enumerate(a)]
    return "\n".join([head, rule, *rows])


def question_markdown(exercise: Exercise) -> str:
    """The question with its grids, as Markdown."""
    parts = [exercise.prompt]
    for caption, values in exercise.grids:
        parts += [f"*{caption}*", grid_markdown(values)]
    return "\n\n".join(parts)


def worksheet(title: str, exercises: Sequence[Exercise], with_answers: bool) -> str:
    """A printable Markdown worksheet: each question with a blank to fill in, or (the answer
    key) with its answer, tolerance and worked solution."""
    kind = "Answer key" if with_answers else "Worksheet"
    lines = [f"# ConvScope · {title} · {kind}", ""]
    if not exercises:
        lines.append("No exercises yet.")
    for n, ex in enumerate(exercises, 1):
        lines += [f"## {n}. {KINDS[ex.kind].label}", "", f"*From {ex.origin}.*", ""]
        lines += [question_markdown(ex), ""]
        if with_answers:
            lines += [f"**Answer:** {ex.answer_text} ({ex.tolerance_text})", "", ex.solution, ""]
        else:
            lines += [f"Answer ({EXPECTS[ex.expects]}): ____________________", ""]
    return "\n".join(lines).rstrip() + "\n"


# The generators register their kinds on import (they import this module's names above).
from . import exercise_classics, exercise_kinds  # noqa: E402, F401

# Each stage page's exercises, in the order its menu lists them (page slugs of ui/pages.py).
PAGE_KINDS: dict[str, tuple[str, ...]] = {
    "convolution": ("output_size", "conv_cell", "smiley_conv", "mnist_size", "rgb_cell"),
    "activation": ("activation",),
    "pooling": ("max_pool", "avg_pool", "smiley_pool"),
    "flatten": ("flat_index", "unflat_index", "smiley_flat"),
    "dense": ("softmax", "argmax"),
}
