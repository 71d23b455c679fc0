"""Guided tours: a few cards per page, each naming one thing on the page and asking the learner to
do it. A card completes only when the page sees that widget's value change: its session-state
value is compared with the value it had when the card was shown. Then the next card appears.

The prose is in assets/tours/<page slug>.md: one ``## `` heading per card (its title), a first
line ``watch: <session-state key>`` (the widget the card asks for), then the text. Progress is
kept in st.session_state[state.TOURS][slug]; the learner can go back, skip a card, restart or end
the tour. A share link with ``tour=1`` opens its page with the tour (ui/links.py sets
state.TOUR_LINK; ``show`` starts the tour on that page).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from . import pages, state
from .layout import ASSETS

TOURS_DIR = ASSETS / "tours"


@dataclass(frozen=True)
class Card:
    """One step of a tour."""

    title: str  # names the thing on the page
    watch: str  # the session-state key of the widget the learner is asked to change
    text: str  # Markdown: what it is, and what to do


@dataclass
class Progress:
    """One page's tour in this session."""

    active: bool = False  # the tour is open on its page
    step: int = 0  # the card shown; len(cards) once every card is done or skipped
    baseline: str | None = None  # fingerprint of the watched value when the card was shown
    done: set[int] = field(default_factory=set)  # cards completed by their action, not skipped
    said: str = ""  # the card the last check completed (said once above the next card)


def parse(text: str) -> tuple[Card, ...]:
    """The cards of a tour file; ValueError naming a card without its ``watch:`` line."""
    cards = []
    for block in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, _, body = block.partition("\n")
        first, _, rest = body.strip().partition("\n")
        found = re.fullmatch(r"watch:\s*(\S+)", first.strip())
        if not found:
            raise ValueError(f"tour card '{title.strip()}' must start with 'watch: <key>'")
        cards.append(Card(title.strip(), found.group(1), rest.strip()))
    return tuple(cards)


@functools.cache
def cards(slug: str) -> tuple[Card, ...]:
    """The tour of page ``slug`` (no cards when it has no tour file)."""
    path = TOURS_DIR / f"{slug}.md"
    return parse(path.read_text(encoding="utf-8")) if path.is_file() else ()


ABSENT = "absent"  # the fingerprint of a key that is not in session state
# Keys that are not widgets' (ui/state.py): an action may create one (Train makes a run), so a
# change from ABSENT counts. A widget's key is absent only until its page draws it.
STATE_KEYS = {v for name, v in vars(state).items() if name.isupper() and isinstance(v, str)}


def fingerprint(key: str) -> str:
    """A short text that changes whenever st.session_state[key] does (ABSENT while unset)."""
    if key not in st.session_state:
        return ABSENT
    return value_print(st.session_state[key])


def value_print(value) -> str:
    """The fingerprint of a value: arrays by their bytes, anything else by its repr."""
    if isinstance(value, np.ndarray):
        return "array:" + state.digest(value)
    return hashlib.sha1(repr(value).encode()).hexdigest()[:16]


def _baseline(key: str) -> str:
    """The watched value now; for a key a page has not set yet, the registry's default (the
    value the widget will start from), else ABSENT (a key an action creates, e.g. a run)."""
    seen = fingerprint(key)
    widget = pages.WIDGETS.get(key)
    if seen == ABSENT and widget is not None and widget.default is not None:
        return value_print(widget.default)
    return seen


def progress(slug: str) -> Progress:
    """This session's progress through page ``slug``'s tour."""
    return st.session_state.setdefault(state.TOURS, {}).setdefault(slug, Progress())


def _go(slug: str, step: int, *, restart: bool = False, active: bool = True) -> None:
    """Show card ``step`` (clamped); restart also forgets the completed cards."""
    p = progress(slug)
    p.active, p.said = active, ""
    p.step = min(max(step, 0), len(cards(slug)))
    p.done = set() if restart else p.done
    p.baseline = _baseline(cards(slug)[p.step].watch) if p.step < len(cards(slug)) else None


def start(slug: str) -> None:
    """Open page ``slug``'s tour at its first card."""
    _go(slug, 0, restart=True)


def check(slug: str) -> bool:
    """Complete the shown card if its widget changed since it was shown (then show the next);
    True when it did. A widget's key that is unset (its page not drawn yet on this visit) gives
    the baseline the registry's default, or the value it first has (see ``settle``)."""
    p, tour = progress(slug), cards(slug)
    if not p.active or p.step >= len(tour):
        return False
    watch = tour[p.step].watch
    now = fingerprint(watch)
    if watch not in STATE_KEYS and ABSENT in (now, p.baseline):
        p.baseline = _baseline(watch) if now == ABSENT else now  # first seen: start from here
        return False
    if now == p.baseline:
        return False
    p.done.add(p.step)
    title = tour[p.step].title
    _go(slug, p.step + 1)
    p.said = title
    return True


def settle(slug: str) -> None:
    """At the end of a page run: the shown card's widget, drawn after the card on this run (a
    page opened from a link, or entered again), gets its baseline now, so that the learner's
    very first change of it completes the card."""
    p, tour = progress(slug), cards(slug)
    if p.active and p.step < len(tour) and p.baseline == ABSENT:
        p.baseline = fingerprint(tour[p.step].watch)


# ----------------------------------------------------------------------------------------------
# On the page


def _open_from_link(slug: str) -> None:
    """A share link's tour=1 (ui/links.py) opens this page's tour once, at its first card."""
    if st.session_state.get(state.TOUR_LINK) == slug:
        del st.session_state[state.TOUR_LINK]
        start(slug)


def show(slug: str) -> None:
    """The tour of page ``slug``: a "Guided tour" button, or the card in progress (after
    checking whether its action was done), with Back, Skip, Restart and End tour."""
    tour = cards(slug)
    if not tour:
        return
    _open_from_link(slug)
    p = progress(slug)
    if not p.active:
        st.button(
            f"Guided tour ({len(tour)} steps)", key=f"tour_start_{slug}", on_click=start,
            args=(slug,), icon=":material/tour:", help="Short cards: each asks you to do one "
            "thing on this page and moves on when you have done it.",
        )  # fmt: skip
        return
    check(slug)
    with st.container(border=True, key=f"tour_card_{slug}"):
        if p.step < len(tour):
            _card(slug, tour, p)
        else:
            _finished(slug, tour, p)


def _card(slug: str, tour: tuple[Card, ...], p: Progress) -> None:
    """The card in progress and its buttons."""
    card = tour[p.step]
    if p.said:
        st.success(f"Done: {p.said}.", icon=":material/check_circle:")
    st.markdown(f"**Guided tour · step {p.step + 1} of {len(tour)} · {card.title}**")
    st.markdown(card.text)
    st.caption("This card moves on when you have done it on the page.")
    cols = st.columns(4)
    cols[0].button(
        "Back", key=f"tour_back_{slug}", on_click=_go, args=(slug, p.step - 1),
        disabled=p.step == 0, icon=":material/arrow_back:",
    )  # fmt: skip
    cols[1].button(
        "Skip", key=f"tour_skip_{slug}", on_click=_go, args=(slug, p.step + 1),
        icon=":material/skip_next:",
    )  # fmt: skip
    _restart_and_end(slug, cols[2:])


def _restart_and_end(slug: str, cols) -> None:
    cols[0].button(
        "Restart", key=f"tour_restart_{slug}", on_click=start, args=(slug,),
        icon=":material/restart_alt:",
    )  # fmt: skip
    cols[1].button(
        "End tour", key=f"tour_end_{slug}", on_click=_end, args=(slug,),
        icon=":material/close:",
    )  # fmt: skip


def _end(slug: str) -> None:
    progress(slug).active = False


def _finished(slug: str, tour: tuple[Card, ...], p: Progress) -> None:
    """The end of the tour: how many steps the learner did (not skipped)."""
    if p.said:
        st.success(f"Done: {p.said}.", icon=":material/check_circle:")
    st.markdown(
        f"**Guided tour complete** · you did {len(p.done)} of its {len(tour)} steps yourself."
    )
    _restart_and_end(slug, st.columns(4)[:2])
