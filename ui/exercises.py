"""Predict, then reveal: the exercises of a stage page (cnn_core.exercises) in an expander.

The learner picks a kind, types an answer and presses Check: the answer is checked with the
tolerance the question states, and the worked solution appears. Text that is not an answer gets a
message and stays in the box. "New exercise" makes another of the same kind; the score of the
session (first valid answer to each exercise) is kept per page. The numbers come from the
learner's own input through the session's model (not the live copy of a run under way, so a
question does not change while it is answered), else from the page's toy grids (``source``);
the seed picks cells, channels and settings: the session's seed (random, or a share link's
``seed``), the page, the kind and a counter, so a class opening one link (its drawing and its
seed) gets the same exercises. Another drawing is another exercise. Two downloads: a worksheet
with blanks and its key (the exercises as they were shown, at most ``SHEET_SIZE`` per page).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from cnn_core import exercises as core
from cnn_core import ops, toy
from cnn_core.exercise_source import FROM_RANDOM, Source

from . import layout, pages, state, tour

Ref = tuple[str, int, str]  # (kind, n, source tag): the n-th exercise of a kind, on these numbers
SHEET_SIZE = 30  # exercises a page keeps for its worksheet (the most recent)
# The toy input and kernel each page's toy edits (widget keys of ui/toy.py's grid editors).
TOY_KEYS = {
    "convolution": ("conv_toy_image", "conv_toy_kernel"),
    "activation": ("act_toy_image", "act_toy_kernel"),
    "pooling": ("pool_toy_image", "pool_toy_kernel"),
    "flatten": ("flat_toy_image", "flat_toy_kernel"),
}
DENSE_TOY_KEYS = ("dense_toy_x", "dense_toy_w", "dense_toy_b")
DENSE_TOY = (toy.toy_features(), toy.DENSE_TOY_W, toy.DENSE_TOY_B)  # their defaults
# The expander's open state per page: a widget value (registered in ui/pages.py, so a teacher's
# link can open a page at its exercises). The expander is filled only while open.
OPEN_KEYS = {
    "convolution": "ex_open_convolution",
    "activation": "ex_open_activation",
    "pooling": "ex_open_pooling",
    "flatten": "ex_open_flatten",
    "dense": "ex_open_dense",
}


@dataclass
class Record:
    """One page's exercises in this session."""

    counts: dict[str, int] = field(default_factory=dict)  # kind -> the current exercise's n
    shown: dict[Ref, core.Exercise] = field(default_factory=dict)  # in the order first shown
    verdicts: dict[Ref, core.Verdict] = field(default_factory=dict)  # the last valid check
    first: dict[Ref, bool] = field(default_factory=dict)  # the first valid check: right?
    revealed: set[Ref] = field(default_factory=set)  # solution shown without an answer

    @property
    def score(self) -> tuple[int, int]:
        """(right at the first try, exercises answered or revealed)."""
        tried = set(self.first) | self.revealed
        return sum(self.first.values()), len(tried)


def session_seed() -> int:
    """This session's exercise seed: a link's, else a random one drawn once."""
    if state.EXERCISE_SEED not in st.session_state:
        hi = pages.LINK_EXTRAS["seed"].hi
        st.session_state[state.EXERCISE_SEED] = secrets.randbelow(int(hi) + 1)
    return int(st.session_state[state.EXERCISE_SEED])


def record(slug: str) -> Record:
    return st.session_state.setdefault(state.EXERCISES, {}).setdefault(slug, Record())


def _grid(key: str, default: np.ndarray) -> np.ndarray | None:
    """The toy grid the page's editor holds (its default before the learner opened it); None
    while its text is not a valid grid (the toy's own editor says why)."""
    text = st.session_state.get(key)
    if text is None:
        return default
    try:
        return toy.parse_grid(text, name="toy grid", max_size=14)
    except ValueError:
        return None


def _dense_toy_logits() -> np.ndarray | None:
    """W·x + b of the Dense page's toy layer, or None while its grids do not fit together."""
    x, w, b = (_grid(k, d) for k, d in zip(DENSE_TOY_KEYS, DENSE_TOY, strict=True))
    if x is None or w is None or b is None or x.shape[0] != 1 or b.shape[0] != 1:
        return None
    try:
        return np.asarray(ops.linear(x[0], w, b[0]), np.float64)  # the op the page's toy uses
    except ValueError:  # shapes that do not fit: the toy's own section says why
        return None


def source(slug: str) -> Source:
    """What page ``slug``'s exercises are made from: the learner's input through the session's
    model (never a run's live copy), the page's toy grids, the model's class names."""
    info, image = state.current_model(live=False), state.current_input()
    trace = None if image is None else state.cached_trace(info.version, info.model, image)
    image_key, kernel_key = TOY_KEYS.get(slug, (None, None))
    return Source(
        trace=trace,
        toy_image=_grid(image_key, toy.TOY_IMAGE) if image_key else None,
        toy_kernel=_grid(kernel_key, toy.TOY_KERNEL) if kernel_key else None,
        toy_logits=_dense_toy_logits() if slug == "dense" else None,
        class_names=tuple(info.class_names),
    )


def make(slug: str, ref: Ref, seed: int, numbers: Source | None = None) -> core.Exercise:
    """Exercise ``ref`` of page ``slug`` for ``seed`` made from ``numbers`` (the page's source
    now, when not given): the same for the same arguments."""
    kind, n, _tag = ref
    return core.make(kind, seeds(slug, kind, n, seed), numbers or source(slug))


def seeds(slug: str, kind: str, n: int, seed: int) -> list[int]:
    """The seed sequence of the n-th exercise of ``kind`` on page ``slug`` for a session seed."""
    return [seed, list(core.PAGE_KINDS).index(slug), list(core.KINDS).index(kind), n]


def _new(slug: str, kind: str) -> None:
    record(slug).counts[kind] = record(slug).counts.get(kind, 0) + 1


def _check(slug: str, ref: Ref, exercise: core.Exercise, text: str) -> str | None:
    """Check the typed answer; the message for text that is not an answer, else None."""
    rec = record(slug)
    try:
        verdict = core.check(exercise, text)
    except core.AnswerError as err:
        return str(err)
    rec.verdicts[ref] = verdict
    rec.first.setdefault(ref, verdict.correct)
    return None


def section(slug: str) -> None:
    """The page's "Predict, then reveal" expander (nothing on a page without exercises), filled
    only while it is open: opening it reruns the page (a closed one costs the page no widgets,
    no exercise and no worksheet). Called at the end of a page, it also settles the page's tour
    (tour.settle)."""
    tour.settle(slug)
    kinds = core.PAGE_KINDS.get(slug)
    if not kinds:
        return
    key = OPEN_KEYS[slug]
    layout.keep(key)
    box = st.expander("Predict, then reveal", icon=":material/quiz:", key=key, on_change="rerun")
    if not box.open:
        return
    with box:
        kind = st.selectbox(
            "Exercise", kinds, format_func=lambda k: core.KINDS[k].label, key=f"ex_kind_{slug}"
        )
        rec, numbers = record(slug), source(slug)
        ref = (kind, rec.counts.setdefault(kind, 0), numbers.tag)
        exercise = rec.shown.get(ref) or make(slug, ref, session_seed(), numbers)
        _keep(rec, ref, exercise)
        st.caption(_origin_words(exercise.origin))
        st.markdown(core.question_markdown(exercise))
        _answer_box(slug, ref, exercise)
        right, tried = rec.score
        st.caption(f"Score on this page this session: {right} of {tried} right at the first try.")
        _downloads(slug)


def _keep(rec: Record, ref: Ref, exercise: core.Exercise) -> None:
    """Remember a shown exercise for the worksheet (the most recent SHEET_SIZE)."""
    if ref not in rec.shown:
        rec.shown[ref] = exercise
        while len(rec.shown) > SHEET_SIZE:
            rec.shown.pop(next(iter(rec.shown)))


def _origin_words(origin: str) -> str:
    """Where the question's numbers come from, in a sentence."""
    if origin == FROM_RANDOM:
        return "Made from random numbers: draw on Draw & predict to practise on your own input."
    return f"Made from {origin}."


def answer_key(slug: str, ref: Ref) -> str:
    """The answer box's widget key: one per exercise, so a new drawing starts an empty box."""
    kind, n, tag = ref
    return f"ex_answer_{slug}_{kind}_{n}_{tag}"


def _answer_box(slug: str, ref: Ref, exercise: core.Exercise) -> None:
    """The answer box, Check / Show the solution / New exercise, the verdict and solution."""
    rec, kind = record(slug), ref[0]
    text = st.text_input(
        f"Your answer: {core.EXPECTS[exercise.expects]} ({exercise.tolerance_text})",
        key=answer_key(slug, ref),
    )
    cols = st.columns(3)
    problem = None
    if cols[0].button("Check", key=f"ex_check_{slug}", type="primary"):
        problem = _check(slug, ref, exercise, text)
    if cols[1].button("Show the solution", key=f"ex_reveal_{slug}") and ref not in rec.first:
        rec.revealed.add(ref)
    cols[2].button("New exercise", key=f"ex_new_{slug}", on_click=_new, args=(slug, kind))
    if problem:
        st.error(problem, icon=":material/edit_note:")
    verdict = rec.verdicts.get(ref)
    if verdict is not None:
        show = st.success if verdict.correct else st.warning
        show(verdict.message)
    if verdict is not None or ref in rec.revealed:
        st.markdown(f"**Worked solution.** {exercise.solution}")


def sheet_exercises(slug: str) -> list[core.Exercise]:
    """The worksheet's exercises: those shown this session (as they were shown), then the first
    of each kind of the page not shown yet, on the page's numbers now (a full sheet even for a
    learner who tried one kind)."""
    rec, numbers = record(slug), source(slug)
    missing = [k for k in core.PAGE_KINDS[slug] if not any(r[0] == k for r in rec.shown)]
    return list(rec.shown.values()) + [
        make(slug, (k, 0, numbers.tag), session_seed(), numbers) for k in missing
    ]


def _downloads(slug: str) -> None:
    """The worksheet (blanks) and its answer key, as Markdown files."""
    title, items = pages.BY_SLUG[slug].title, sheet_exercises(slug)
    cols = st.columns(2)
    for col, with_answers, name, label in (
        (cols[0], False, "worksheet", "Worksheet"),
        (cols[1], True, "answer-key", "Answer key"),
    ):
        col.download_button(
            f"{label} (Markdown)",
            core.worksheet(title, items, with_answers),
            file_name=f"convscope-{slug}-{name}.md",
            mime="text/markdown",
            key=f"ex_{name}_{slug}",
            on_click="ignore",
            icon=":material/download:",
        )
