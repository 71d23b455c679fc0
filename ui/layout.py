"""Small pieces of page layout shared by several pages (widgets in, plain values out)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import streamlit as st

from cnn_core import Trace

from . import images, pages, state, theme

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@st.cache_data(show_spinner=False)
def prose(name: str) -> str:
    """The learner-facing text assets/<name>.md (kept out of the code)."""
    return (ASSETS / f"{name}.md").read_text(encoding="utf-8")


def app_styles() -> None:
    """The app's own CSS (theme.APP_CSS: code colours with AA contrast in both themes); app.py
    draws it on every page. A <style>-only st.html takes no space on the page."""
    st.html(f"<style>{theme.APP_CSS}</style>")


def color_mode_value(key: str) -> str:
    """The colour-range mode a ``color_mode`` radio drawn elsewhere holds (its default until
    it is drawn)."""
    keep_choice(key, theme.COLOR_MODES, "per layer")
    return st.session_state[key]


def color_mode(key: str) -> str:
    """The colour-range mode radio ("per layer" unless the key holds another valid mode, e.g.
    from a share link); returns one of theme.COLOR_MODES."""
    color_mode_value(key)  # a valid value under the key before the radio reads it
    return st.radio(
        "Colour range", theme.COLOR_MODES, horizontal=True, key=key, help=theme.COLOR_MODE_HELP
    )


def layer_and_channel(stages, layer_key: str, channel_key: str, labels, columns):
    """Pick a stage (selectbox) and one of its channels (number input) in two columns, keeping
    pre-set values that fit. Returns (stage, channel)."""
    names = [s.name for s in stages]
    keep_choice(layer_key, names, names[0])
    name = columns[0].selectbox(labels[0], names, key=layer_key)
    stage = next(s for s in stages if s.name == name)
    top = stage.output.shape[0] - 1
    keep_int(channel_key, 0, top, 0)
    channel = int(columns[1].number_input(labels[1], 0, top, step=1, key=channel_key))
    return stage, channel


def input_trace() -> Trace | None:
    """The current trace, or None with a prompt that says how to get an input."""
    trace = state.current_trace()
    if trace is None:
        st.info("There is no input yet: draw a digit or pick one from the data set first.")
        home = pages.HOME
        st.page_link(home.file, label=f"Go to {home.title}", icon=home.icon)
    else:
        st.caption(
            f"Current input: {state.input_source()} · prediction "
            f"**{state.current_model().class_names[trace.prediction]}**"
        )
    return trace


def map_values(trace: Trace) -> np.ndarray:
    """Every value of every conv / activation / pool map (the 'global' colour range)."""
    kinds = {"conv", "norm", "activation", "pool"}
    maps = [s.output.ravel() for s in trace.stages if s.kind in kinds]
    return np.concatenate(maps)


def maps_alt(name: str, maps: np.ndarray) -> str:
    """A stage's maps in words: "conv1: 8 feature maps of 28x28 for your drawing, values from
    -0.52 to 1.3"."""
    count, height, width = np.shape(maps)
    plural = "s" if count != 1 else ""
    return (
        f"{name}: {count} feature map{plural} of {height}x{width} for {state.input_source()}, "
        f"values from {float(np.min(maps)):.3g} to {float(np.max(maps)):.3g}"
    )


def stage_maps(
    maps: np.ndarray, mode: str, global_values, scale: int = 3, ncols: int = 8, name="stage"
):
    """Show a (C, H, W) stage as one coloured image with its colour range stated, its
    description as the image's alt text and its numbers as a table on demand (filled only while
    open: a dataframe costs the browser more than the image)."""
    alt = maps_alt(name, maps)
    st.image(images.montage(maps, mode, global_values, scale, ncols), clamp=True, alt=alt)
    st.caption(range_note(maps, mode, global_values))
    numbers_table(maps, f"maps_{name}", name, open_key=f"maps_{name}_table")


def range_note(maps: np.ndarray, mode: str, global_values) -> str:
    """The colour range of a stage's montage in words: "per layer colour range -0.5 to 1.2 ·
    blue < 0 < red" (no numbers "per map": each map has its own)."""
    lo, hi = theme.value_range(global_values if mode == "global" else maps)
    scale_name = "blue < 0 < red" if theme.is_signed(maps) else "dark = 0, bright = large"
    return (
        f"{mode} colour range{'' if mode == 'per map' else f' {lo:.3g} to {hi:.3g}'} · {scale_name}"
    )


def numbers_table(
    values, key: str, what: str = "this map", names=None, open_key: str | None = None
) -> None:
    """A heatmap's numbers on demand: an expander "Numbers as a table" with the values of a
    (H, W) map, or of one map (picked by number) of a (C, H, W) stage or of a list of maps of
    any sizes (``names`` say what each is), or of a vector. With ``open_key`` the expander is
    a keyed widget that reruns when opened or closed and is filled only while open, so a page
    redrawn often (Draw & predict, on every stroke) sends no table the learner did not ask for."""
    label = f"Numbers as a table ({what})"
    box = st.expander(label, key=open_key, on_change="rerun") if open_key else st.expander(label)
    if open_key and not box.open:
        return
    with box:
        numbers_content(values, key, what, names)


def numbers_content(values, key: str, what: str = "this map", names=None) -> None:
    """The inside of a "Numbers as a table" expander (see numbers_table): a map's numbers, with
    a number input for the map of a (C, H, W) stage or a list of maps."""
    if isinstance(values, list) or np.ndim(values) == 3:
        top = len(values) - 1
        keep_int(f"table_{key}", 0, top, 0)
        c = int(st.number_input("Map", 0, top, step=1, key=f"table_{key}"))
        values = values[c]  # (H, W)
        if names:
            st.caption(f"Map {c}: {names[c]}")
    values = np.asarray(values)
    values = values.astype(np.float32) if values.dtype.kind == "f" else values
    table = values.reshape(1, -1) if values.ndim == 1 else values  # rows x columns
    st.dataframe(table, alt=f"The numbers of {what}, row by row")
    st.caption("Rows and columns are counted from 0, as in PyTorch.")


def curves_alt(rows, live=()) -> str:
    """Text alternative of the sidebar's training curves: what they plot and where they ended."""
    text = "Training curves: loss and accuracy against epochs"
    if rows:
        last = rows[-1]
        text += (
            f"; after epoch {last['epoch']} the held-out accuracy is "
            f"{last['test_accuracy']:.1%}, the held-out loss {last['test_loss']:.3f}"
        )
    if live:
        done, loss, accuracy = live[-1]
        text += f"; live: {done:.2f} epochs done, loss {loss:.3f}, accuracy {accuracy:.1%}"
    return text


def grid_alt(title: str, values, extra: str = "") -> str:
    """A heatmap in words: "patch, in ch 0: a 5x5 grid of numbers from 0 to 0.98; <extra>"."""
    values = np.asarray(values, dtype=float)
    size = "x".join(str(n) for n in values.shape)
    size = f"{size} grid of" if values.ndim > 1 else f"row of {values.size}"
    shown = values[np.isfinite(values)]
    span = f" from {shown.min():.3g} to {shown.max():.3g}" if shown.size else ""
    return f"{title}: a {size} numbers{span}" + (f"; {extra}" if extra else "")


def chart(place, figure, key: str, alt: str, values=None, what: str = "this map", **kwargs):
    """st.plotly_chart in ``place`` (st, a column or a container) with its text alternative and,
    when ``values`` are given (the heatmap's numbers), a "Numbers as a table" expander under it,
    filled only while open (key ``<key>_table``: a dataframe costs the browser tens of ms).
    Returns what st.plotly_chart returns (the selection event with on_select)."""
    event = place.plotly_chart(figure, key=key, alt=alt, **kwargs)
    if values is not None:
        with contextlib.nullcontext() if place is st else place:
            numbers_table(values, key, what, open_key=f"{key}_table")
    return event


def shape_text(shape) -> str:
    return " x ".join(str(n) for n in shape)


# Widget values that may have been pre-set (a share link) or left over from another model: each
# helper puts a valid value under ``key`` before the widget is drawn, and the page then draws the
# widget without value=/index= so session state is the only source of its value.


def keep(key: str, default=None) -> pages.Widget:
    """Put a valid value under the shareable widget key ``key``, within its bounds or choices in
    the page registry, and return its Widget: the widget takes ``lo`` and ``hi`` from there.
    ``default`` is for a default that depends on the model (else the registry's)."""
    widget = pages.WIDGETS[key]
    default = widget.default if default is None else default
    if widget.kind == "int":
        keep_int(key, widget.lo, widget.hi, default)
    elif widget.kind == "float":
        keep_float(key, widget.lo, widget.hi, default)
    elif widget.kind == "bool":
        keep_bool(key, default)
    elif widget.kind == "choice":
        keep_choice(key, widget.choices, default)
    return widget


def keep_choice(key: str, options, default) -> None:
    """Keep st.session_state[key] if it is one of options, else set it to default."""
    if st.session_state.get(key) not in list(options):
        st.session_state[key] = default


def keep_int(key: str, low: int, high: int, default: int) -> None:
    """Clamp st.session_state[key] to an int in [low, high] (default if missing or not a number)."""
    value = st.session_state.get(key, default)
    try:
        value = int(value)
    except (TypeError, ValueError, OverflowError):
        value = default
    st.session_state[key] = min(max(value, low), high)


def keep_float(key: str, low: float, high: float, default: float) -> None:
    """Clamp st.session_state[key] to a finite float in [low, high]."""
    value = st.session_state.get(key, default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = default
    value = default if not np.isfinite(value) else value
    st.session_state[key] = min(max(value, low), high)


def keep_bool(key: str, default: bool) -> None:
    if not isinstance(st.session_state.get(key), bool):
        st.session_state[key] = default


def color_range(values, mode: str, layer_values=None, global_values=None):
    """(zmin, zmax) and colour scale for one map under a colour-range mode: the map's own
    values, its whole stage's (per layer) or every stage's (global). Diverging when signed."""
    source = {"per map": values, "per layer": layer_values, "global": global_values}[mode]
    source = values if source is None else source
    zrange = theme.value_range(source)
    return zrange, theme.DIVERGING if zrange[0] < 0 else theme.SEQUENTIAL


SOURCES = {"model": "Your input through the model", "toy": "Toy example (by hand)"}


def source_switch(key: str, trace) -> str:
    """The stage pages' "Work on" radio: "model" (the current input through the model) or "toy".
    Without an input the toy is shown, and the page says so."""
    options = keep(key).choices  # "model", "toy"
    source = st.radio("Work on", options, format_func=SOURCES.get, horizontal=True, key=key)
    if source == "model" and trace is None:
        st.caption("No input yet, so the toy example is shown.")
        return "toy"
    return source
