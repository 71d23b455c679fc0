"""ui/figures.py: the layout a figure asks Plotly for. Numbers in grids are printed at 14 px or
more in cells that hold them; a layer's map titles have a strip of their own above their maps;
shared colour bars lie under the maps; grid titles stay inside their chart. (What Chromium finally
draws is measured in tests/test_browser_layout.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from ui import figures

RNG = np.random.default_rng(0)


def _plot_px(fig) -> float:
    """The height of the plotting area (the paper) in pixels."""
    margin = fig.layout.margin
    return fig.layout.height - margin.t - margin.b


@pytest.mark.parametrize(
    ("shape", "digits", "cell_px"), [((3, 3), 3, 34), ((9, 9), 0, 26), ((1, 10), 2, 40)]
)
def test_grid_numbers_are_printed_at_14_px_in_cells_that_hold_them(shape, digits, cell_px):
    """A grid with numbers prints them at 14 px or more (the toy's padded grid was 9 px, the
    others 11 px), and its rows are tall enough for the widest number at that size."""
    values = RNG.normal(size=shape).astype(np.float32)
    fig = figures.annotated_grid(values, title="t", digits=digits, cell_px=cell_px)
    trace = fig.data[0]
    assert trace.texttemplate and trace.textfont.size >= 14
    widest = max(len(t) for row in trace.text for t in row)
    assert _plot_px(fig) / shape[0] >= 0.5 * 14 * widest  # a digit is about half the font wide


def test_a_large_map_prints_no_numbers():
    """A 28x28 map is a heatmap with hover values (text is slow and unreadable there)."""
    fig = figures.annotated_grid(RNG.normal(size=(28, 28)), cell_px=12)
    assert fig.data[0].text is None and not fig.data[0].texttemplate


def test_confusion_counts_are_printed_at_14_px():
    """The confusion matrix's counts are grid numbers too."""
    fig = figures.confusion_figure(np.arange(100).reshape(10, 10), list(range(10)))
    assert fig.data[0].textfont.size >= 14


def test_grid_width_grows_with_the_numbers_it_prints():
    """grid_width_px, which pages use to place grids, counts cells wide enough for their numbers
    (3 decimals need more than 0), the row numbers and a colour bar."""
    weights = np.full((3, 3), -0.616, np.float32)
    wide = figures.grid_width_px(weights, digits=3)
    assert wide > figures.grid_width_px(np.ones((3, 3)), digits=0)
    assert wide >= 3 * figures.text_cell_px([["-0.616"]])
    assert figures.grid_width_px(weights, digits=3, show_scale=True) > wide
    assert figures.grid_width_px(np.ones((1, 1)), digits=0) >= figures.MIN_CHART_PX


@pytest.mark.parametrize(("count", "ncols", "cell_px"), [(16, 4, 110), (8, 8, 70), (16, 8, 70)])
def test_map_titles_have_a_strip_of_their_own(count, ncols, cell_px):
    """Each map's title hangs from the top of a strip above its map, tall enough for the title,
    and below the map above it (Flatten's "ch 4" once sat on the map above it); titles are
    centred over their maps (they were left-anchored and ran into each other)."""
    fig = figures.heatmap_grid(RNG.normal(size=(count, 5, 5)), ncols=ncols, cell_px=cell_px)
    plot = _plot_px(fig)
    for k, title in enumerate(fig.layout.annotations):
        yaxis = fig.layout[f"yaxis{'' if k == 0 else k + 1}"]
        title_top = (1 - title.y) * plot  # pixels from the top of the paper
        map_top, map_bottom = ((1 - y) * plot for y in reversed(yaxis.domain))
        assert title.yanchor == "top" and title.xanchor == "center"
        assert map_top - title_top >= 1.3 * title.font.size
        if k >= ncols:  # the map above this one ends above this title
            above = fig.layout[f"yaxis{'' if k - ncols == 0 else k - ncols + 1}"]
            assert (1 - above.domain[0]) * plot <= title_top


def test_the_height_follows_the_rows():
    """Twice the rows, about twice the height: nothing is squeezed into a fixed height."""
    one = figures.heatmap_grid(RNG.normal(size=(4, 5, 5)), ncols=4, cell_px=80)
    two = figures.heatmap_grid(RNG.normal(size=(8, 5, 5)), ncols=4, cell_px=80)
    assert _plot_px(two) == 2 * _plot_px(one)


def test_a_shared_colour_bar_lies_under_the_maps():
    """One colour range: its bar is horizontal, under the maps, half the width long (it was a
    vertical bar as short as one row of filters, about 40 px), inside the bottom margin."""
    fig = figures.heatmap_grid(RNG.normal(size=(8, 3, 3)), cell_px=70)
    bar = fig.layout.coloraxis.colorbar
    assert bar.orientation == "h" and bar.len >= 0.5 and bar.yanchor == "top"
    assert bar.y < 0 and fig.layout.margin.b >= figures.COLORBAR_PX
    assert fig.layout.margin.autoexpand is False  # the rows keep their pixels


def test_a_grid_title_sits_inside_its_chart_over_the_grid():
    """The title hangs from the top of the chart (it was placed 1 % from the top and rose past
    it) at the left of the plot, where the grid starts."""
    fig = figures.annotated_grid(np.ones((3, 3)), title="in ch 0")
    title = fig.layout.title
    assert (title.yref, title.y, title.yanchor, title.pad.t) == ("container", 1, "top", 8)
    assert (title.xref, title.x, title.xanchor) == ("paper", 0, "left")
    assert fig.layout.xaxis.constraintoward == "left"


def test_a_long_run_lets_plotly_number_the_epochs():
    """60 epochs numbered one by one ran into each other; a short run keeps every epoch."""
    rows = [
        {"epoch": e, "train_loss": 1.0, "test_loss": 1.0, "train_accuracy": 0.5,
         "test_accuracy": 0.5} for e in range(1, 61)
    ]  # fmt: skip
    assert figures.training_curves(rows).layout.xaxis.dtick is None
    assert figures.training_curves(rows[:5]).layout.xaxis.dtick == 1
