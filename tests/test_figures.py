"""ui/figures.py and ui/charts.py: the layout a figure asks Plotly for. Numbers in grids are
printed at 14 px or more in cells that hold them; a layer's map titles have a strip of their own
above their maps; shared colour bars lie under the maps; grid titles stay inside their chart.
(What Chromium finally draws is measured in tests/test_browser_layout.py.) And what each figure
shows: its traces, their data, shapes and axes."""

from __future__ import annotations

import numpy as np
import pytest

from ui import charts, figures

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
    fig = charts.confusion_figure(np.arange(100).reshape(10, 10), list(range(10)))
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


# ----------------------------------------------------------------------------------------------
# What each figure shows: its traces, their data and the axes


def test_heatmap_grid_has_one_heatmap_per_map_on_its_own_axes():
    """Each map of a (C, H, W) stage is one heatmap holding that map's values, on axes of its
    own, titled with its channel."""
    maps = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    fig = figures.heatmap_grid(maps)
    assert [t.type for t in fig.data] == ["heatmap"] * 3
    for k, trace in enumerate(fig.data):
        np.testing.assert_array_equal(np.asarray(trace.z), maps[k])
    assert len({(t.xaxis, t.yaxis) for t in fig.data}) == 3
    assert [a.text for a in fig.layout.annotations] == ["ch 0", "ch 1", "ch 2"]


def test_heatmap_grid_shares_one_colour_axis_only_for_equal_ranges():
    """Per-layer ranges put every map on one colour axis of that range; per-map ranges give
    each map its own zmin/zmax."""
    maps = np.stack([np.full((2, 2), 0.5), np.array([[-2.0, 1.0], [0.0, 2.0]])])
    shared = figures.heatmap_grid(maps, ranges=[(-2.0, 2.0)] * 2)
    assert (shared.layout.coloraxis.cmin, shared.layout.coloraxis.cmax) == (-2.0, 2.0)
    assert all(t.coloraxis == "coloraxis" for t in shared.data)
    own = figures.heatmap_grid(maps, ranges=[(-0.5, 0.5), (-2.0, 2.0)])
    assert [(t.zmin, t.zmax) for t in own.data] == [(-0.5, 0.5), (-2.0, 2.0)]


def test_annotated_grid_holds_the_values_and_prints_them():
    """A small grid's heatmap holds the values (a 1-D vector as one row) and prints each cell
    with the requested decimals."""
    fig = figures.annotated_grid(np.array([[1.0, -0.5], [0.25, 0.0]]), digits=2)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), [[1.0, -0.5], [0.25, 0.0]])
    assert [list(r) for r in fig.data[0].text] == [["1.00", "-0.50"], ["0.25", "0"]]
    row = figures.annotated_grid(np.array([3.0, 4.0, 5.0]))
    assert np.asarray(row.data[0].z).shape == (1, 3)


def test_annotated_grid_draws_boxes_and_marks():
    """A Box becomes a rectangle around its cells (half a cell outside their centres); marks
    become one scatter trace at their cells."""
    box = type(
        "Box", (), {"top": 1, "left": 2, "bottom": 3, "right": 4, "color": "red", "width": 2}
    )
    fig = figures.annotated_grid(np.zeros((5, 5)), boxes=[box], marks=[(0, 1), (4, 4)])
    (shape,) = fig.layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (1.5, 4.5, 0.5, 3.5)
    marks = fig.data[1]
    assert marks.type == "scatter" and list(marks.x) == [1, 4] and list(marks.y) == [0, 4]


def test_outline_cells_draws_the_box_on_each_of_the_first_maps():
    """outline_cells puts one rectangle per box on each of the first ``count`` maps' axes."""
    box = type(
        "Box", (), {"top": 0, "left": 0, "bottom": 1, "right": 1, "color": "red", "width": 1}
    )
    fig = figures.outline_cells(figures.heatmap_grid(np.zeros((3, 4, 4))), [box], count=2)
    assert len(fig.layout.shapes) == 2
    assert [(s.xref, s.yref) for s in fig.layout.shapes] == [
        (fig.data[0].xaxis, fig.data[0].yaxis),
        (fig.data[1].xaxis, fig.data[1].yaxis),
    ]


def test_probability_bars_show_every_class_and_highlight_one():
    """One bar per class named on a category axis, its height the probability, its label a
    percentage; the predicted class (or the chosen one) has a colour of its own."""
    p = np.array([0.1, 0.7, 0.2])
    fig = charts.probability_bars(p, ["a", "b", "c"])
    (bars,) = fig.data
    assert list(bars.x) == ["a", "b", "c"] and fig.layout.xaxis.type == "category"
    np.testing.assert_allclose(np.asarray(bars.y), p)
    assert list(bars.text) == ["10.0%", "70.0%", "20.0%"]
    colours = list(bars.marker.color)
    assert colours[1] != colours[0] == colours[2]
    chosen = list(charts.probability_bars(p, "abc", highlight=2).data[0].marker.color)
    assert chosen[2] != chosen[0] == chosen[1]


def test_vector_strip_is_one_row_with_a_line_per_boundary():
    """A vector is a 1xN heatmap; each channel boundary is a vertical line between cells."""
    fig = figures.vector_strip(np.arange(12.0), boundaries=[4, 8])
    assert np.asarray(fig.data[0].z).shape == (1, 12)
    assert sorted(s.x0 for s in fig.layout.shapes) == [3.5, 7.5]


def test_training_curves_plot_the_four_metrics_per_epoch_and_the_previous_run_dotted():
    """Loss curves on the left axes, accuracy on the right, x the epochs; a previous run adds
    the same four curves dotted; a run under way adds its running loss and accuracy."""
    rows = [
        {"epoch": e, "train_loss": 1 / e, "test_loss": 1.1 / e, "train_accuracy": 0.5 + e / 10,
         "test_accuracy": 0.4 + e / 10} for e in (1, 2, 3)
    ]  # fmt: skip
    fig = figures.training_curves(rows)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"train loss", "held-out loss", "train accuracy", "held-out accuracy"}
    assert list(by_name["held-out accuracy"].x) == [1, 2, 3]
    np.testing.assert_allclose(by_name["train loss"].y, [1, 0.5, 1 / 3])
    assert by_name["train loss"].yaxis == "y" and by_name["held-out accuracy"].yaxis == "y2"
    both = figures.training_curves(rows, previous=rows[:2], live=[(3.5, 0.2, 0.9)])
    dotted = [t for t in both.data if t.name.endswith("(previous run)")]
    assert len(dotted) == 4 and all(t.line.dash == "dot" for t in dotted)
    assert {t.name for t in both.data} >= {"training loss (now)", "training accuracy (now)"}


def test_training_curves_mark_each_learning_rate_change_on_both_panels():
    """A learning-rate change is a dashed line on the loss and the accuracy panel, labelled."""
    rows = [{"epoch": 1, "train_loss": 1, "test_loss": 1, "train_accuracy": 0.5,
             "test_accuracy": 0.5}]  # fmt: skip
    fig = figures.training_curves(rows, lr_marks=[(0.5, 0.001)])
    assert sorted(s.xref for s in fig.layout.shapes) == ["x", "x2"]
    assert all(s.x0 == 0.5 and s.line.dash == "dash" for s in fig.layout.shapes)
    assert any(a.text == "lr 0.001" for a in fig.layout.annotations)


def test_confusion_figure_holds_the_counts_true_rows_predicted_columns():
    """The heatmap's z is the matrix, printed in the cells, rows the true class from the top."""
    m = np.array([[5, 1], [2, 7]])
    fig = charts.confusion_figure(m, ["cat", "dog"])
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), m)
    assert list(fig.data[0].x) == ["cat", "dog"] == list(fig.data[0].y)
    assert fig.layout.yaxis.autorange == "reversed"
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("predicted", "true")


def test_confusion_selectable_has_a_clickable_marker_per_cell():
    """Over the matrix lies one invisible marker per cell whose customdata is [true, predicted]."""
    fig = charts.confusion_selectable(np.arange(9).reshape(3, 3), "abc")
    markers = fig.data[1]
    assert len(markers.x) == 9 and markers.marker.opacity == 0
    cells = {
        (y, x): tuple(c) for x, y, c in zip(markers.x, markers.y, markers.customdata, strict=True)
    }
    assert cells[("b", "c")] == (1, 2) and cells[("a", "a")] == (0, 0)


def test_activation_curve_has_the_function_and_the_maps_points():
    """A line for the function and a marker per plotted cell of the map."""
    xs = np.linspace(-2, 2, 5)
    fig = charts.activation_curve(xs, np.maximum(xs, 0), [-1.0, 0.5], [0.0, 0.5], "ReLU")
    line, points = fig.data
    assert line.mode == "lines" and line.name == "ReLU" and list(line.y) == [0, 0, 0, 1, 2]
    assert points.mode == "markers" and list(points.x) == [-1.0, 0.5]


def test_activation_curve_draws_cells_of_equal_value_as_one_dot():
    """Every cell's (before, after) pair is a dot, and cells with the same pair share one."""
    before = np.array([[-1.0, -1.0, 0.5], [-1.0, 0.5, 2.0]], np.float32)
    after = np.maximum(before, 0)
    _, points = charts.activation_curve([-2.0, 2.0], [0.0, 2.0], before, after, "ReLU").data
    dots = set(zip(points.x, points.y, strict=True))
    assert dots == {(-1.0, 0.0), (0.5, 0.5), (2.0, 2.0)} and len(points.x) == 3


def test_contribution_bars_colour_by_sign_first_label_on_top():
    """Horizontal bars, red for a positive contribution and blue for a negative one, signed
    labels, the first label at the top."""
    fig = charts.contribution_bars(["x0", "x1"], [0.5, -0.25])
    (bars,) = fig.data
    assert bars.orientation == "h" and list(bars.y) == ["x0", "x1"]
    assert list(bars.text) == ["+0.500", "-0.250"]
    assert bars.marker.color[0] != bars.marker.color[1]
    assert fig.layout.yaxis.autorange == "reversed"


def test_channel_vector_colours_each_block_by_its_channel_and_marks_the_index():
    """Values of one channel (``block`` in a row) share a colour and carry the channel number;
    the chosen index gets a line."""
    fig = charts.channel_vector(np.arange(6.0), block=2, index=3)
    (bars,) = fig.data
    assert list(bars.customdata) == [0, 0, 1, 1, 2, 2]
    colours = list(bars.marker.color)
    assert colours[0] == colours[1] != colours[2] == colours[3] != colours[4]
    assert [s.x0 for s in fig.layout.shapes] == [3]
