"""The page registry (ui/pages.py): its files exist, its widget keys are the ones the code draws,
its defaults fit its bounds, the widgets take their bounds from it; and every session-state key
the code spells out as a string is a widget's key (every other key is named in ui/state.py)."""

import ast
from pathlib import Path

import numpy as np
import pytest

from cnn_core import load_default_model
from tests.conftest import held_out_digit, open_page
from ui import pages

ROOT = Path(__file__).resolve().parent.parent
CODE = [ROOT / "app.py", *sorted((ROOT / "ui").glob("*.py")), *(ROOT / "app_pages").glob("*.py")]


def _trees() -> dict[str, ast.Module]:
    return {str(path.relative_to(ROOT)): ast.parse(path.read_text()) for path in CODE}


def _text(node) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _key_params(trees) -> dict[str, set[int]]:
    """Function name -> positions of its parameters named key or *_key (layout.color_mode(key),
    canvas.drawing_canvas(key, ...), layout.layer_and_channel(stages, layer_key, ...))."""
    found: dict[str, set[int]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for i, arg in enumerate(node.args.args):
                    if arg.arg == "key" or arg.arg.endswith("_key"):
                        found.setdefault(node.name, set()).add(i)
    return found


def _widget_keys(trees) -> set[str]:
    """Every string the code passes as a widget's key (key="..." or a key parameter)."""
    params, keys = _key_params(trees), set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            keys |= {_text(kw.value) for kw in node.keywords if kw.arg == "key"}
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            keys |= {_text(node.args[i]) for i in params.get(name, ()) if i < len(node.args)}
    return keys - {None}


def _is_session_state(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "session_state"


def _session_literals(tree):
    """(line, key) of every string literal used as a key of st.session_state."""
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and _is_session_state(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            calls_state = _is_session_state(node.func.value) and node.args
            if calls_state and node.func.attr in {"get", "pop", "setdefault"}:
                key = node.args[0]
        elif isinstance(node, ast.Compare) and any(map(_is_session_state, node.comparators)):
            key = node.left  # "key" in st.session_state
        if key is not None and _text(key) is not None:
            yield node.lineno, _text(key)


def test_every_page_file_exists_and_the_home_page_is_at_the_root():
    """Each row names a page script that exists; slugs and titles are unique; only the home
    page has an empty URL path, the others' is their slug (what links.link_for writes)."""
    assert all((ROOT / page.file).is_file() for page in pages.PAGES)
    count = len(pages.PAGES)
    assert len({p.slug for p in pages.PAGES}) == len({p.title for p in pages.PAGES}) == count
    assert [p.url_path for p in pages.PAGES] == ["", *(p.slug for p in pages.PAGES[1:])]


def test_every_stage_kind_of_the_model_has_one_page():
    """Each stage of the default model's trace links to exactly one page (the overview's
    "Explain" links), the home page for the input."""
    kinds = {stage.kind for stage in load_default_model().trace(held_out_digit()).stages}
    for kind in kinds:
        assert sum(kind in page.kinds for page in pages.PAGES) == 1, kind
    assert pages.for_kind("input") is pages.HOME
    assert pages.for_kind("norm") is pages.BY_SLUG["activation"]  # its section there


def test_widget_keys_are_unique_and_drawn_by_the_code():
    """No key is shared by two pages (a link sets it whichever page it opens), and every
    registered key is written in app_pages/ or ui/ (a renamed widget fails here; some keys
    reach their widget through a loop, so the string is looked for, not a key= argument)."""
    assert len(pages.WIDGETS) == sum(len(page.settings) for page in pages.PAGES)
    trees = _trees()
    del trees["ui/pages.py"]
    named = {_text(n) for tree in trees.values() for n in ast.walk(tree)}  # every string
    missing = set(pages.WIDGETS) - named
    assert not missing, f"registered but not drawn: {sorted(missing)}"


@pytest.mark.parametrize(
    "key", sorted(k for k, w in pages.WIDGETS.items() if w.default is not None)
)
def test_static_defaults_fit_their_bounds_and_survive_a_link(key):
    """A default is inside its bounds (or one of its choices) and reads back from link text."""
    widget = pages.WIDGETS[key]
    if widget.kind in ("int", "float"):
        assert widget.lo <= widget.default <= widget.hi
    if widget.kind == "choice":
        assert widget.default in widget.choices
    assert widget.parse(widget.format(widget.default)) == widget.default


BOUNDED = [  # (page slug, widget key, other settings the widget needs to be drawn)
    ("draw", "draw_brush", {}),
    ("convolution", "conv_toy_k", {"conv_tab": "Toy playground"}),  # only the open tab is drawn
    ("convolution", "conv_toy_stride", {"conv_tab": "Toy playground"}),
    ("activation", "act_slope", {"act_function": "leaky_relu"}),
    ("activation", "act_toy_bias", {"act_source": "toy"}),
    ("pooling", "pool_size", {}),
    ("pooling", "pool_stride", {}),
    ("dense", "softmax_temperature", {}),
    ("attribution", "attr_patch", {"attr_method": "Occlusion"}),  # only the open tab is drawn
    ("attribution", "attr_fill", {"attr_method": "Occlusion"}),
]


@pytest.mark.parametrize("slug, key, preset", BOUNDED, ids=[b[1] for b in BOUNDED])
def test_widgets_take_their_bounds_from_the_registry(slug, key, preset):
    """The widget's min and max are the registry's, and a preset value above the top (a
    session that had another value) is clamped to the registry's top."""
    widget = pages.WIDGETS[key]
    page = pages.BY_SLUG[slug]
    at = open_page(
        None if page is pages.HOME else page.file, digit=7, settings={key: widget.hi + 1, **preset}
    )
    found = [w for w in [*at.slider, *at.number_input] if w.key == key]
    assert len(found) == 1, key
    assert (found[0].proto.min, found[0].proto.max) == (widget.lo, widget.hi)
    assert np.isclose(found[0].value, widget.hi)


def test_session_state_keys_in_strings_are_widget_keys():
    """Every st.session_state key written as a string literal in app.py, ui/ and app_pages/
    is a widget's key; any other key is a constant of ui/state.py (its comment says what it
    holds), so that module lists every key that is not a widget's."""
    trees = _trees()
    widgets = _widget_keys(trees) | set(pages.WIDGETS)
    strays = [
        f"{path}:{line} {key!r}"
        for path, tree in trees.items()
        for line, key in _session_literals(tree)
        if key not in widgets
    ]
    assert not strays, strays
