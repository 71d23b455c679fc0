"""AppTest: the Convolution page's open tab is a widget value the server keeps (``conv_tab``).
Acting on the Kernel editor tab leaves the learner on that tab; a share link carries the tab and
reopens on it; a bad tab in a link is named in a note of whole sentences and the page opens on
its first tab. The browser side (what Chromium shows) is tests/test_browser_conv_tabs_share.py."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import share
from tests.conftest import held_out_digit, open_link, open_page, page_text
from ui import links, state

PAGE = "app_pages/page_convolution.py"
MODEL, EDITOR, TOY = links.CONV_TABS.values()


def _digit() -> np.ndarray:
    return held_out_digit(7)


def _open_tab(at: AppTest) -> str:
    """The label of the tab the server tells the browser to show."""
    container = next(node for node in at.main if node.type == "tab_container")
    labels = [tab.label for tab in container.children.values()]
    return labels[container.proto.tab_container.default_tab_index]


def _on_tab(tab: str) -> AppTest:
    """A session with a digit as input, on the Convolution page, on ``tab`` (as a click on the
    tab in the browser leaves it)."""
    at = open_page(PAGE, digit=7)
    at.session_state["conv_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    assert _open_tab(at) == tab
    return at


def _notes(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_the_tabs_keep_their_labels():
    """The three tab labels are the ones the browser tests click by name."""
    assert [MODEL, EDITOR, TOY] == ["Your input and model", "Kernel editor", "Toy playground"]


def test_use_in_the_model_an_edit_and_restore_stay_on_the_kernel_editor():
    """Use in the model, then a new kernel in the editor, then Restore: after each run the
    server still shows the Kernel editor (it used to send no tab, and the browser showed the
    first)."""
    at = _on_tab(EDITOR)
    at.button(key="conv_use").click().run()
    assert at.session_state[state.MODEL].version.startswith("edited:")
    assert _open_tab(at) == EDITOR
    at.text_area(key="conv_kernel").input("0 1 0\n1 -4 1\n0 1 0").run()
    assert _open_tab(at) == EDITOR and at.button(key="conv_restore")
    at.button(key="conv_restore").click().run()
    assert at.session_state[state.MODEL] is None
    assert _open_tab(at) == EDITOR


def test_a_change_on_the_toy_playground_stays_there():
    """Changing the toy stride on the Toy playground tab recomputes the output (3x3) and keeps
    that tab open."""
    at = _on_tab(TOY)
    at.number_input(key="conv_toy_stride").set_value(2).run()
    assert "The output is **3x3**" in "\n".join(m.value for m in at.markdown)
    assert _open_tab(at) == TOY


@pytest.mark.parametrize("tab, word", [(MODEL, "model"), (EDITOR, "editor"), (TOY, "toy")])
def test_a_link_made_on_a_tab_reopens_on_it(tab, word):
    """The link of a view on each tab names the tab in one word; a fresh session opened with it
    is on that tab, without a note."""
    params = links.encode("convolution", _digit(), {"conv_tab": tab, "conv_toy_stride": 2})
    assert params["conv_tab"] == word
    at = open_link(params, check=True)
    assert at.title[0].value == "Convolution"
    assert _open_tab(at) == tab and at.session_state["conv_tab"] == tab
    assert not _notes(at)


def test_the_share_box_holds_the_open_tab():
    """The link in "Share this view" (the sidebar's code box) has the tab the learner is on."""
    at = _on_tab(TOY)
    link = next(c.value for c in at.sidebar.code if "page=convolution" in c.value)
    assert "conv_tab=toy" in link


@pytest.mark.parametrize("bad", ["kernel", "Toy playground", "3", "<b>toy</b>"])
def test_a_bad_tab_in_a_link_is_named_and_the_first_tab_opens(bad):
    """A link with an unknown tab gives one note naming the (escaped) value and the page opens
    on its first tab."""
    at = open_link({"page": "convolution", "conv_tab": bad}, check=True)
    shown = share.safe_name(bad)
    assert _notes(at) == [
        "Some of this link could not be used. `conv_tab` was ignored: "
        f"'{shown}' is not one of model, editor, toy."
    ]
    assert _open_tab(at) == MODEL


def test_every_note_of_a_bad_link_is_a_sentence():
    """A bad kernel grid, a bad tab and an unknown parameter: one note, each part a sentence
    (the grid's reason used to end in "number.;")."""
    at = open_link(
        {"page": "convolution", "conv_kernel": "1,x;0,1", "conv_tab": "side", "zoom": "2"},
        check=True,
    )
    assert _notes(at) == [
        "Some of this link could not be used. `conv_kernel` was ignored: row 1, column 2 of the "
        "grid is 'x', which is not a number. `conv_tab` was ignored: 'side' is not one of model, "
        "editor, toy. The link has unknown parameters, which were ignored: `zoom`."
    ]
    assert _open_tab(at) == MODEL


def test_the_model_tab_shows_how_the_receptive_field_grows():
    """For the default model: 3x3 after conv1, 4x4 after pool1, 8x8 after conv2, 10x10 after
    pool2 (cnn_core.attribution.field_sizes), and the chosen cell's field on the input."""
    at = open_page(PAGE, digit=7)
    at.slider(key="conv_row").set_value(10).run()
    at.slider(key="conv_col").set_value(12).run()
    table = next(d.value for d in at.dataframe if "sees (pixels)" in d.value.columns)
    assert list(table["stage"]) == ["conv1", "act1", "pool1", "conv2", "act2", "pool2"]
    assert list(table["sees (pixels)"]) == ["3x3", "3x3", "4x4", "8x8", "8x8", "10x10"]
    assert "Output cell (10, 12) of conv1 sees input rows 9-11 and columns 11-13." in page_text(at)
