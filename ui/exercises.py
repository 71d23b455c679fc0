"""Predict, then reveal: the exercises of a stage page (cnn_core.exercises) in an expander.

The learner picks a kind, types an answer and presses Check: the answer is checked with the
tolerance the question states, and the worked solution appears. Text that is not an answer gets a
message and stays in the box. "New exercise" makes another of the same kind; the score of the
session (first valid answer to each exercise) is kept per page. The numbers come from the
session's seed (random, or a share link's ``seed``), the page, the kind and a counter, so a class
opening one link gets the same exercises. Two downloads: a worksheet with blanks and its key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import streamlit as st

from cnn_core import exercises as core

from . import pages, state, tour

Ref = tuple[str, int]  # (kind, n): the n-th exercise of that kind on a page


@dataclass
class Record:
    """One page's exercises in this session."""

    counts: dict[str, int] = field(default_factory=dict)  # kind -> the current exercise's n
    shown: list[Ref] = field(default_factory=list)  # in the order they were first shown
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


def make(slug: str, ref: Ref, seed: int) -> core.Exercise:
    """Exercise ``ref`` of page ``slug`` for ``seed``: the same for the same arguments."""
    kind, n = ref
    page_index = list(core.PAGE_KINDS).index(slug)
    kind_index = list(core.KINDS).index(kind)
    return core.make(kind, [seed, page_index, kind_index, n])


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
    """The page's "Predict, then reveal" expander (nothing on a page without exercises). Called
    at the end of a page, it also settles the page's tour (tour.settle)."""
    tour.settle(slug)
    kinds = core.PAGE_KINDS.get(slug)
    if not kinds:
        return
    with st.expander("Predict, then reveal", icon=":material/quiz:"):
        kind = st.selectbox(
            "Exercise", kinds, format_func=lambda k: core.KINDS[k].label, key=f"ex_kind_{slug}"
        )
        rec = record(slug)
        ref = (kind, rec.counts.setdefault(kind, 0))
        exercise = make(slug, ref, session_seed())
        if ref not in rec.shown:
            rec.shown.append(ref)
        st.markdown(core.question_markdown(exercise))
        _answer_box(slug, ref, exercise)
        right, tried = rec.score
        st.caption(f"Score on this page this session: {right} of {tried} right at the first try.")
        _downloads(slug)


def _answer_box(slug: str, ref: Ref, exercise: core.Exercise) -> None:
    """The answer box, Check / Show the solution / New exercise, the verdict and solution."""
    rec, (kind, n) = record(slug), ref
    text = st.text_input(
        f"Your answer: {core.EXPECTS[exercise.expects]} ({exercise.tolerance_text})",
        key=f"ex_answer_{slug}_{kind}_{n}",
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
    """The worksheet's exercises: those shown this session, then the first of each kind of the
    page not shown yet (a full sheet even for a learner who tried one kind)."""
    rec, seed = record(slug), session_seed()
    refs = list(rec.shown) + [
        (k, 0) for k in core.PAGE_KINDS[slug] if not any(r[0] == k for r in rec.shown)
    ]
    return [make(slug, ref, seed) for ref in refs]


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
