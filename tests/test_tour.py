"""Guided tours (ui/tour.py, assets/tours/): every tour file is 3-7 cards watching keys the code
has; in a session a card completes on its own widget's change and not before, and Back, Skip,
Restart and End tour work; a share link with tour=1 opens its page's tour."""

import pytest

from cnn_core import share
from tests.conftest import held_out_digit, open_link, open_page
from tests.test_pages import _trees, _widget_keys
from ui import links, pages, state, tour

TOUR_PAGES = sorted(p.stem for p in tour.TOURS_DIR.glob("*.md"))
POOLING = "app_pages/page_pooling.py"


def test_every_stage_page_the_draw_page_and_training_have_a_tour():
    """A tour file for every page with a stage kind but attribution, and for Training."""
    wanted = {p.slug for p in pages.PAGES if p.kinds} | {"training"}
    assert wanted <= set(TOUR_PAGES) <= set(pages.BY_SLUG)


@pytest.mark.parametrize("slug", TOUR_PAGES)
def test_each_tour_has_3_to_7_cards_watching_keys_the_code_has(slug):
    """3-7 cards; each has a title and text and watches a widget key drawn by the code or a
    key named in ui/state.py."""
    cards = tour.cards(slug)
    assert 3 <= len(cards) <= 7
    known = _widget_keys(_trees()) | set(pages.WIDGETS) | tour.STATE_KEYS
    for card in cards:
        assert card.title and len(card.text) > 40 and card.watch in known, card


def test_a_card_without_its_watch_line_is_refused():
    """parse names the card that lacks its 'watch:' line."""
    with pytest.raises(ValueError, match="'Oops' must start with 'watch"):
        tour.parse("# T\n\n## Oops\nSome text\n")


def _card(at) -> str:
    """The tour card's heading line, or '' when no card is shown."""
    return next((m.value for m in at.markdown if "Guided tour" in m.value), "")


def _started():
    at = open_page(POOLING, digit=7)
    at.button(key="tour_start_pooling").click().run()
    assert "step 1 of 4 · Max or average" in _card(at)
    return at


def test_a_card_completes_on_its_widget_and_not_on_another():
    """Changing the window size leaves the 'Max or average' card; switching the mode completes
    it, says so, and shows the next card."""
    at = _started()
    at.number_input(key="pool_size").set_value(3).run()
    assert "step 1 of 4" in _card(at) and not at.success
    at.radio(key="pool_mode").set_value("avg").run()
    assert "step 2 of 4 · The window" in _card(at)
    assert "Done: Max or average" in at.success[0].value
    assert at.session_state[state.TOURS]["pooling"].done == {0}


def test_back_skip_restart_and_end():
    """Back returns to the previous card (which completes again only on a new change), Skip
    moves on without counting the card as done, Restart goes to card 1, End tour closes it."""
    at = _started()
    at.button(key="tour_skip_pooling").click().run()
    assert "step 2 of 4" in _card(at)
    at.button(key="tour_back_pooling").click().run()
    assert "step 1 of 4" in _card(at)
    at.run()  # a rerun without a change completes nothing
    assert "step 1 of 4" in _card(at)
    for _ in range(4):
        at.button(key="tour_skip_pooling").click().run()
    assert "complete" in _card(at) and "0 of its 4" in _card(at)
    at.button(key="tour_restart_pooling").click().run()
    assert "step 1 of 4" in _card(at)
    at.button(key="tour_end_pooling").click().run()
    assert not _card(at) and at.button(key="tour_start_pooling")


def test_a_link_opens_the_page_with_its_tour_and_the_first_change_counts():
    """page=pooling&tour=1 opens Pooling at card 1 with no note; the learner's first change of
    the card's widget completes it (its baseline was taken when the page had drawn it)."""
    params = links.encode("pooling", held_out_digit(), {}, tour=True)
    assert params["tour"] == "1"
    at = open_link(params, check=True)
    assert "step 1 of 4" in _card(at) and not at.warning
    at.radio(key="pool_mode").set_value("avg").run()
    assert "step 2 of 4" in _card(at)


def test_a_bad_tour_value_is_a_note():
    """tour=maybe is ignored with the link note and opens no tour."""
    at = open_link(
        {"page": "pooling", "tour": "maybe", "img": share.encode_image(held_out_digit())}
    )
    assert not at.exception
    assert "`tour` was ignored" in "\n".join(w.value for w in at.warning)
    assert not _card(at)
