"""The "Predict, then reveal" expander of the stage pages (ui/exercises.py) in AppTest: an
invalid answer gets a message and stays in the box, a right one is scored and the worked
solution appears, the tolerance is the stated one, a link's seed gives the same exercise, the
worksheet downloads are there; and the RGB toy of the Convolution page against F.conv2d."""

import torch
import torch.nn.functional as F

from cnn_core import exercises as core
from cnn_core import worked_examples as wx
from tests.conftest import held_out_digit, open_link, open_page
from ui import exercises, links, state

POOLING = "app_pages/page_pooling.py"


def _current(at, slug: str, kind: str, n: int = 0) -> core.Exercise:
    """The exercise the session shows: the same seed, page, kind and counter."""
    return exercises.make(slug, (kind, n), at.session_state[state.EXERCISE_SEED])


def _answer(at, slug: str, kind: str, text: str, n: int = 0):
    at.text_input(key=f"ex_answer_{slug}_{kind}_{n}").input(text).run()
    at.button(key=f"ex_check_{slug}").click().run()
    assert not at.exception, at.exception
    return at


def _score(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Score on this page"))


def test_invalid_text_gets_a_message_and_loses_nothing():
    """'abc' is refused with what to type; the text stays in the box; the score is unchanged."""
    at = open_page(POOLING, digit=7)
    assert "0 of 0" in _score(at)
    _answer(at, "pooling", "max_pool", "abc")
    assert "not a number" in at.error[0].value
    assert at.text_input(key="ex_answer_pooling_max_pool_0").value == "abc"
    assert "0 of 0" in _score(at) and not any("Worked solution" in m.value for m in at.markdown)


def test_a_right_answer_is_scored_and_the_worked_solution_shown():
    """The answer of the shown exercise (its question is on the page) is Right, scores 1 of 1,
    and its worked solution appears; New exercise gives an empty box for the next one."""
    at = open_page(POOLING, digit=7)
    e = _current(at, "pooling", "max_pool")
    assert e.prompt in "\n".join(m.value for m in at.markdown)
    _answer(at, "pooling", "max_pool", e.answer_text)
    assert at.success[-1].value == "Right."
    assert any(e.solution in m.value for m in at.markdown)
    assert "1 of 1" in _score(at)
    at.button(key="ex_new_pooling").click().run()
    assert at.text_input(key="ex_answer_pooling_max_pool_1").value == ""
    assert _current(at, "pooling", "max_pool", 1).prompt in "\n".join(m.value for m in at.markdown)


def test_a_wrong_first_answer_counts_and_the_tolerance_is_stated():
    """On Dense, a softmax answer 0.02 off is wrong (the box says 'within ±0.01') and stays
    wrong in the score even after the right one; 0.009 off is right."""
    at = open_page("app_pages/page_dense.py", digit=7)
    at.selectbox(key="ex_kind_dense").set_value("softmax").run()
    e = _current(at, "dense", "softmax")
    assert "within ±0.01" in at.text_input(key="ex_answer_dense_softmax_0").label
    _answer(at, "dense", "softmax", f"{e.answer + 0.02:.5f}")
    assert "Not quite" in at.warning[-1].value
    _answer(at, "dense", "softmax", f"{e.answer - 0.009:.5f}")
    assert at.success[-1].value == "Right." and "0 of 1" in _score(at)


def test_a_link_seed_gives_everyone_the_same_exercise():
    """Two sessions opened from one link with seed=4242 show the same question, made from that
    seed; the share link carries the session's seed."""
    params = links.encode("flatten", held_out_digit(), {}, seed=4242)
    first, second = open_link(params, check=True), open_link(params, check=True)
    assert first.session_state[state.EXERCISE_SEED] == 4242
    question = exercises.make("flatten", ("flat_index", 0), 4242).prompt
    for at in (first, second):
        assert question in "\n".join(m.value for m in at.markdown)


def test_worksheet_and_answer_key_downloads_are_offered():
    """The expander has the two download buttons; the worksheet's exercises are the session's
    (the one shown first) and one of each other kind of the page."""
    at = open_page(POOLING, digit=7)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Worksheet (Markdown)" in labels and "Answer key (Markdown)" in labels
    seed = at.session_state[state.EXERCISE_SEED]
    shown = exercises.make("pooling", ("max_pool", 0), seed)
    kinds = [e.kind for e in _sheet(at)]
    assert kinds == list(core.PAGE_KINDS["pooling"]) and _sheet(at)[0].prompt == shown.prompt


def _sheet(at):
    """ui.exercises.sheet_exercises for the session's record (outside a script run)."""
    record = at.session_state[state.EXERCISES]["pooling"]
    seed = at.session_state[state.EXERCISE_SEED]
    refs = list(record.shown) + [
        (k, 0) for k in core.PAGE_KINDS["pooling"] if not any(r[0] == k for r in record.shown)
    ]
    return [exercises.make("pooling", ref, seed) for ref in refs]


def test_the_rgb_toy_on_the_convolution_page_matches_torch():
    """Filter 1, output cell (2, 0): the page's sum equals F.conv2d of the 6x6x3 image."""
    at = open_page(
        "app_pages/page_convolution.py",
        digit=7,
        settings={"conv_rgb_filter": 1, "conv_rgb_row": 2, "conv_rgb_col": 0},
    )
    want = F.conv2d(
        torch.tensor(wx.RGB_IMAGE)[None], torch.tensor(wx.RGB_FILTERS), torch.tensor(wx.RGB_BIAS)
    )[0, 1, 2, 0].item()
    latex = [x.value.strip("$\n ") for x in at.latex if r"\text{out}[1,2,0]" in x.value]
    assert want != 0 and len(latex) == 1 and latex[0].endswith(f"= {want:g}")
    assert "6x6x3 -> 4x4x2" in "\n".join(m.value for m in at.markdown)
