"""The "Predict, then reveal" expander of the stage pages (ui/exercises.py) in AppTest: an
invalid answer gets a message and stays in the box, a right one is scored and the worked
solution appears, the tolerance is the stated one, a link's seed gives the same exercise, the
worksheet downloads are there; and the RGB toy of the Convolution page against F.conv2d."""

import re

import pytest
import torch
import torch.nn.functional as F

from cnn_core import exercises as core
from cnn_core import toy
from cnn_core import worked_examples as wx
from cnn_core.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint
from cnn_core.exercise_source import Source
from tests.conftest import held_out_digit, open_link, open_page
from ui import exercises, links, pages, state

POOLING = "app_pages/page_pooling.py"
# Each page's "Predict, then reveal" expander opened (it is filled only while open).
OPEN = {slug: {key: True} for slug, key in exercises.OPEN_KEYS.items()}


def _numbers(at) -> Source:
    """What the session's exercises are made from, built here: the session's input through the
    shipped model (loaded from its file, not from the app)."""
    model, _ = load_checkpoint(DEFAULT_MODEL_PATH)
    return Source(trace=model.eval().trace(at.session_state[state.INPUT]))


def _current(at, slug: str, kind: str, n: int = 0, seed: int | None = None) -> core.Exercise:
    """The exercise the session should show: its seed, page, kind and counter, its input."""
    seed = at.session_state[state.EXERCISE_SEED] if seed is None else seed
    return core.make(kind, exercises.seeds(slug, kind, n, seed), _numbers(at))


def _box(at, slug: str, kind: str, n: int = 0):
    """The answer box of the n-th exercise of ``kind`` (its key ends with the source's tag)."""
    return at.text_input(key=exercises.answer_key(slug, (kind, n, _numbers(at).tag)))


def _answer(at, slug: str, kind: str, text: str, n: int = 0):
    _box(at, slug, kind, n).input(text).run()
    at.button(key=f"ex_check_{slug}").click().run()
    assert not at.exception, at.exception
    return at


def _score(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Score on this page"))


def test_invalid_text_gets_a_message_and_loses_nothing():
    """'abc' is refused with what to type; the text stays in the box; the score is unchanged."""
    at = open_page(POOLING, digit=7, settings=OPEN["pooling"])
    assert "0 of 0" in _score(at)
    _answer(at, "pooling", "max_pool", "abc")
    assert "not a number" in at.error[0].value
    assert _box(at, "pooling", "max_pool").value == "abc"
    assert "0 of 0" in _score(at) and not any("Worked solution" in m.value for m in at.markdown)


def test_a_right_answer_is_scored_and_the_worked_solution_shown():
    """The answer of the shown exercise (its question is on the page) is Right, scores 1 of 1,
    and its worked solution appears; New exercise gives an empty box for the next one."""
    at = open_page(POOLING, digit=7, settings=OPEN["pooling"])
    e = _current(at, "pooling", "max_pool")
    assert e.prompt in "\n".join(m.value for m in at.markdown)
    _answer(at, "pooling", "max_pool", e.answer_text)
    assert at.success[-1].value == "Right."
    assert any(e.solution in m.value for m in at.markdown)
    assert "1 of 1" in _score(at)
    at.button(key="ex_new_pooling").click().run()
    assert _box(at, "pooling", "max_pool", 1).value == ""
    assert _current(at, "pooling", "max_pool", 1).prompt in "\n".join(m.value for m in at.markdown)


def test_a_wrong_first_answer_counts_and_the_tolerance_is_stated():
    """On Dense, a softmax answer 0.02 off is wrong (the box says 'within ±0.01') and stays
    wrong in the score even after the right one; 0.009 off is right."""
    at = open_page("app_pages/page_dense.py", digit=7, settings=OPEN["dense"])
    at.selectbox(key="ex_kind_dense").set_value("softmax").run()
    e = _current(at, "dense", "softmax")
    assert "within ±0.01" in _box(at, "dense", "softmax").label
    _answer(at, "dense", "softmax", f"{e.answer + 0.02:.5f}")
    assert "Not quite" in at.warning[-1].value
    _answer(at, "dense", "softmax", f"{e.answer - 0.009:.5f}")
    assert at.success[-1].value == "Right." and "0 of 1" in _score(at)


def test_a_link_seed_gives_everyone_the_same_exercise():
    """Two sessions opened from one link with seed=4242 show the same question, made from that
    seed; the share link carries the session's seed."""
    params = links.encode("flatten", held_out_digit(), OPEN["flatten"], seed=4242)
    assert params["ex_open_flatten"] == "1"  # the link opens the page at its exercises
    first, second = open_link(params, check=True), open_link(params, check=True)
    assert first.session_state[state.EXERCISE_SEED] == 4242
    question = _current(first, "flatten", "flat_index", seed=4242).prompt
    assert "Your input's pool2 maps" in question  # made from the link's drawing
    for at in (first, second):
        assert question in "\n".join(m.value for m in at.markdown)


def test_worksheet_and_answer_key_downloads_are_offered():
    """The expander has the two download buttons; the worksheet's exercises are the session's
    (the one shown first) and one of each other kind of the page."""
    at = open_page(POOLING, digit=7, settings=OPEN["pooling"])
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Worksheet (Markdown)" in labels and "Answer key (Markdown)" in labels
    shown = _current(at, "pooling", "max_pool")
    record = at.session_state[state.EXERCISES]["pooling"]
    assert [e.prompt for e in record.shown.values()] == [shown.prompt]


def test_without_a_drawing_the_convolution_exercise_is_made_from_the_edited_toy():
    """No input: the conv cell question says it is made from the toy; after the learner edits
    the toy input, the question's answer is F.conv2d of the edited grid at the asked cell."""
    settings = {"ex_kind_convolution": "conv_cell", "conv_tab": "Toy playground"}  # its editor
    settings |= OPEN["convolution"]
    at = open_page("app_pages/page_convolution.py", settings=settings)
    assert "Made from the toy." in [c.value for c in at.caption]
    grid = [
        [float(v) for v in row.split()]
        for row in at.text_area(key="conv_toy_image").value.split("\n")
    ]
    grid[3][3] = 5.0
    at.text_area(key="conv_toy_image").input("\n".join(" ".join(f"{v:g}" for v in r) for r in grid))
    at.run()
    shown = next(e for e in at.session_state[state.EXERCISES]["convolution"].shown.values())
    assert shown.origin == "the toy"
    asked = list(at.session_state[state.EXERCISES]["convolution"].shown.values())[-1]
    row, col = (int(v) for v in re.search(r"cell \((\d+), (\d+)\)", asked.prompt).groups())
    kernel = torch.tensor(toy.TOY_KERNEL)[None, None]
    want = F.conv2d(torch.tensor(grid, dtype=torch.float32)[None, None], kernel)[0, 0, row, col]
    assert asked.answer == float(want)
    assert asked.prompt in "\n".join(m.value for m in at.markdown)


def test_a_new_drawing_makes_a_new_exercise_and_keeps_the_score():
    """After a right answer, another drawing gives another question from the new input (an
    empty box); the score of the session stays; the worksheet keeps both questions."""
    at = open_page(POOLING, digit=7, settings=OPEN["pooling"])
    first = _current(at, "pooling", "max_pool")
    _answer(at, "pooling", "max_pool", first.answer_text)
    assert "1 of 1" in _score(at) and "Made from your input." in [c.value for c in at.caption]
    at.session_state[state.INPUT] = held_out_digit(3)
    at.run()
    second = _current(at, "pooling", "max_pool")
    assert second.prompt != first.prompt
    assert second.prompt in "\n".join(m.value for m in at.markdown)
    assert _box(at, "pooling", "max_pool").value == "" and "1 of 1" in _score(at)
    record = at.session_state[state.EXERCISES]["pooling"]
    assert [e.prompt for e in record.shown.values()] == [first.prompt, second.prompt]


def test_the_rgb_toy_on_the_convolution_page_matches_torch():
    """Filter 1, output cell (2, 0): the page's sum equals F.conv2d of the 6x6x3 image."""
    at = open_page(
        "app_pages/page_convolution.py",
        digit=7,
        settings={
            "conv_rgb_filter": 1,
            "conv_rgb_row": 2,
            "conv_rgb_col": 0,
            "conv_tab": "Toy playground",
        },  # the RGB toy is on the toy's tab
    )
    want = F.conv2d(
        torch.tensor(wx.RGB_IMAGE)[None], torch.tensor(wx.RGB_FILTERS), torch.tensor(wx.RGB_BIAS)
    )[0, 1, 2, 0].item()
    latex = [x.value.strip("$\n ") for x in at.latex if r"\text{out}[1,2,0]" in x.value]
    assert want != 0 and len(latex) == 1 and latex[0].endswith(f"= {want:g}")
    assert "6x6x3 -> 4x4x2" in "\n".join(m.value for m in at.markdown)


def test_without_a_drawing_the_dense_exercises_use_the_toy_layers_logits():
    """No input: Dense's softmax question is made from the toy layer's logits, F.linear of its
    x, W and b (the page's defaults), and says so."""
    at = open_page("app_pages/page_dense.py", settings={"ex_kind_dense": "softmax"} | OPEN["dense"])
    assert "Made from the toy." in [c.value for c in at.caption]
    asked = list(at.session_state[state.EXERCISES]["dense"].shown.values())[-1]
    x, w, b = (torch.tensor(a, dtype=torch.float64) for a in exercises.DENSE_TOY)
    want = F.linear(x[0], w, b[0]).numpy()
    shown = [float(v) for v in re.search(r"z = \(([^)]*)\)", asked.prompt).group(1).split(", ")]
    assert asked.origin == "the toy" and len(shown) == len(want)
    assert max(abs(s - v) for s, v in zip(shown, want, strict=True)) <= 0.05 + 1e-9


@pytest.mark.parametrize("slug", sorted(exercises.OPEN_KEYS))
def test_the_closed_expander_costs_nothing_and_opening_it_shows_the_exercise(slug):
    """Closed (the default), the expander is on the page but holds nothing: no exercise is
    made, no widget drawn. Opened (as a click reruns the page), it shows the current exercise
    and its answer box; closed again, it is empty again and the exercise is kept."""
    page = pages.BY_SLUG[slug]
    at = open_page(page.file, digit=7)
    box = [e for e in at.expander if e.label == "Predict, then reveal"]
    assert len(box) == 1 and not box[0].children
    made = at.session_state.get(state.EXERCISES, {})
    assert slug not in made  # no exercise made for this page
    assert not [w for w in at.selectbox if w.key == f"ex_kind_{slug}"]
    at.session_state[exercises.OPEN_KEYS[slug]] = True
    at.run()
    assert not at.exception, at.exception
    shown = list(at.session_state[state.EXERCISES][slug].shown.values())
    assert len(shown) == 1
    assert shown[0].prompt in "\n".join(m.value for m in at.markdown)
    assert [w for w in at.selectbox if w.key == f"ex_kind_{slug}"]
    at.session_state[exercises.OPEN_KEYS[slug]] = False
    at.run()
    assert not [w for w in at.selectbox if w.key == f"ex_kind_{slug}"]
    assert list(at.session_state[state.EXERCISES][slug].shown.values()) == shown
