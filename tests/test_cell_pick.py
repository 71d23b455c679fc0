"""Clicking a cell of a map (ui/cell_pick.py): reading a click from a chart's selection state,
the invisible markers, and the bounds a chosen cell's or window's field outlines on every map
(ui/field_view.py) against cnn_core.attribution."""

import itertools

import numpy as np
import pytest

from cnn_core import attribution
from cnn_core.model import ModelConfig
from ui import cell_pick, field_view, figures


def _selection(*data) -> dict:
    """A chart's selection state as Streamlit keeps it, one point per customdata given."""
    points = [{"customdata": d, "point_index": 0} for d in data]
    return {"selection": {"points": points, "point_indices": [], "box": [], "lasso": []}}


@pytest.mark.parametrize(
    "data, cell",
    [
        ([2, 3], (2, 3)),
        ({"0": 2, "1": 3}, (2, 3)),  # Chromium sends an array's items keyed "0", "1"
        ([2.0, 3.0, 0.5, 9], (2, 3)),  # whole floats count; extra hover data is ignored
        ([7, 0], None),  # row 7 is outside a 7-row map
        ([-1, 0], None),
        ([True, 0], None),  # a bool is not a row
        ([1.5, 0], None),
        ([2], None),
        ("2,3", None),
        (None, None),
    ],
)
def test_clicked_reads_a_whole_in_range_cell_or_nothing(data, cell):
    """clicked() returns the cell of the first point's customdata when its first numbers are
    whole numbers inside the map's shape, and None for anything else."""
    assert cell_pick.clicked(_selection(data), (7, 5)) == cell


def test_clicked_on_no_selection_is_none():
    """No state, an empty dict and a selection without points all read as no click."""
    for state in (None, {}, {"selection": {"points": []}}):
        assert cell_pick.clicked(state, (3, 3)) is None


def test_markers_cover_every_cell_with_its_row_and_column():
    """add_markers lays one invisible square marker at the centre of every cell, its
    customdata [row, col] (after the prefix), and turns clicks into selections."""
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    fig = cell_pick.add_markers(figures.annotated_grid(values), values, prefix=(5,))
    markers = fig.data[-1]
    data = np.asarray(markers.customdata)
    assert data.shape == (12, 3) and set(data[:, 0]) == {5}
    for (x, y), (_, r, c) in zip(zip(markers.x, markers.y, strict=True), data, strict=True):
        assert (x, y) == (c, r)
        assert markers.text[r * 4 + c] == f"{values[r, c]:.5g}"
    assert markers.marker.opacity == 0 and markers.marker.symbol == "square"
    assert fig.layout.clickmode == "event+select" and fig.layout.dragmode is False


def test_markers_follow_a_placement_over_the_input():
    """With first and step (an occlusion map's patches), marker (r, c) sits at the centre of
    patch (r, c) in input pixels."""
    values = np.zeros((3, 3), np.float32)
    fig = cell_pick.add_markers(figures.annotated_grid(values), values, first=1.5, step=2.0)
    xs, ys = np.asarray(fig.data[-1].x), np.asarray(fig.data[-1].y)
    np.testing.assert_array_equal(xs.reshape(3, 3)[0], [1.5, 3.5, 5.5])
    np.testing.assert_array_equal(ys.reshape(3, 3)[:, 0], [1.5, 3.5, 5.5])


def test_markers_keep_rows_downwards_on_a_map_over_the_input():
    """An occlusion map over the input has its rows downwards by a descending y range (not
    autorange): the pinned axes keep it descending (it was flipped, the map upside down)."""
    from ui import attribution_view

    values = np.zeros((13, 13), np.float32)
    place = attribution_view.Placement.patches(4, 2)
    fig = attribution_view.overlay(values, np.zeros((28, 28)), place, (0.0, 1.0), "RdBu",
                                   title="t", bar="b", hover="")  # fmt: skip
    fig = cell_pick.add_markers(fig, values, first=place.first, step=place.step)
    top, bottom = fig.layout.yaxis.range
    assert top > bottom and (top, bottom) == (1.5 + 12.5 * 2, 0.5)
    assert fig.layout.xaxis.range[0] < fig.layout.xaxis.range[1]


# ----------------------------------------------------------------------------------------------
# Field bounds against the core

CONFIGS = [
    ModelConfig(),
    ModelConfig(filters=(4, 4), kernel_size=(5, 3), stride=(1, 2), padding=(2, 0), pooling="avg"),
    ModelConfig(filters=(4, 4, 4), kernel_size=(3, 7, 3), stride=(2, 1, 1), padding=(3, 1, 1)),
    ModelConfig(filters=(4,), kernel_size=(7,), stride=(1,), padding=(0,), pooling="none"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
def test_a_cells_bounds_on_the_input_are_its_receptive_field(config):
    """For every stage and a spread of cells, the input bounds field_view outlines are
    attribution.receptive_field's, and the chosen stage itself outlines just the cell."""
    for name, _, (_, h, w) in attribution.spatial_stages(config):
        for row, col in {(0, 0), (h // 2, w // 3), (h - 1, w - 1)}:
            bounds = field_view.cell_bounds(config, name, row, col)
            assert bounds["input"] == attribution.receptive_field(config, name, row, col)
            assert bounds[name] == (row, col, row, col)
            assert list(bounds) == ["input", *field_view.path(config, name)]


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
def test_a_regions_bounds_are_the_union_of_its_cells_fields(config):
    """The bounds of a rectangle of cells (a pooling window) on every earlier map are the
    bounding box of the fields of all its cells, taken one by one (brute force)."""
    stages = attribution.spatial_stages(config)
    name, _, (_, h, w) = stages[-1]
    rect = (max(h // 2 - 1, 0), max(w // 2 - 2, 0), min(h // 2 + 1, h - 1), w - 1)
    bounds = field_view.region_bounds(config, name, rect)
    for source in ["input", *(s for s, _, _ in stages[:-1])]:
        fields = [
            attribution.field_on(config, name, r, c, source)
            for r, c in itertools.product(range(rect[0], rect[2] + 1), range(rect[1], rect[3] + 1))
        ]
        fields = [f for f in fields if not field_view.is_empty(f)]
        union = (min(f[0] for f in fields), min(f[1] for f in fields),
                 max(f[2] for f in fields), max(f[3] for f in fields))  # fmt: skip
        assert bounds[source] == union, source


def test_a_pooling_windows_field_is_its_pooled_cells_field():
    """With the model's own pooling, the window of pooled cell (r, c) on the map pooling
    receives sees exactly what attribution.receptive_field says pooled cell (r, c) sees."""
    config = ModelConfig()
    k, s = config.pool_size, config.pool_stride
    for row, col in [(0, 0), (3, 5), (13, 13)]:
        window = (row * s, col * s, row * s + k - 1, col * s + k - 1)
        bounds = field_view.region_bounds(config, "act1", window)
        assert bounds["input"] == attribution.receptive_field(config, "pool1", row, col)


def test_words_say_the_bounds_and_an_empty_field():
    """The caption's words: ranges, a single row or column, and a field of padding only."""
    assert field_view.words((3, 5, 10, 12)) == "rows 3-10, columns 5-12"
    assert field_view.words((4, 7, 4, 9)) == "row 4, columns 7-9"
    assert field_view.words((5, 0, 4, 3)) == "only padding, no cell"
