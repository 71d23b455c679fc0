"""ui/light.py, the light HTML of the Draw & predict page (and ui/images.strip): the numbers a
learner reads are the values given, printed as the Plotly charts they replace printed them; the
predicted class is marked in words, not by colour alone; every number is readable on its cell
(WCAG AA contrast); class names are escaped."""

from __future__ import annotations

import re

import numpy as np

from ui import images, light, theme


def _contrast(a, b) -> float:
    """WCAG contrast ratio of two uint8 RGB colours."""

    def luminance(rgb):
        c = np.asarray(rgb, np.float64) / 255
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return float(c @ [0.2126, 0.7152, 0.0722])

    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[k : k + 2], 16) for k in (1, 3, 5))


def test_probability_bars_print_every_class_and_its_value():
    """One row per class, in order, with the class name and its probability to 0.1 %."""
    p = np.array([0.05, 0.8, 0.15])
    html = light.probability_bars(p, ["a", "b", "c"])
    rows = re.findall(r"<th scope='row'[^>]*>([^<]*)</th>.*?<td[^>]*>([^<]*)</td></tr>", html)
    assert rows == [("a", "5.0%"), ("b", "80.0% ◀ predicted"), ("c", "15.0%")]


def test_probability_bars_mark_the_chosen_class_in_words_and_width():
    """The highlighted class (here not the largest) says "predicted" and is red; each bar's width
    is its probability."""
    html = light.probability_bars([0.25, 0.75], ["x", "y"], highlight=0)
    assert html.count("predicted") == 1 and "25.0% ◀ predicted" in html
    assert re.findall(r"width:([\d.]+)%;min-width", html) == ["25.0", "75.0"]
    assert html.count(light.HIGHLIGHT) == 1


def test_class_names_are_escaped():
    """A model's own class names cannot inject markup."""
    html = light.probability_bars([1.0], ["<b>x</b>"])
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "&lt;b&gt;" in light.value_row([1.0], ["<b>x</b>"])


def test_value_row_prints_each_value_on_its_heatmap_colour():
    """Each cell holds theme.cell_text of its value on the colour images.colorize gives it over
    the row's symmetric range (signed values: diverging)."""
    v = np.array([-2.5, 0.0, 1.25, 3.0], np.float32)
    html = light.value_row(v, list("abcd"), digits=2)
    cells = re.findall(r"background:rgb\((\d+),(\d+),(\d+)\);color:(#\w+)'>([^<]*)</td>", html)
    assert [c[4] for c in cells] == [theme.cell_text(x, 2) for x in v]
    expected = images.colorize(v[None, :], -3.0, 3.0, signed=True)[0]
    assert [tuple(int(n) for n in c[:3]) for c in cells] == [tuple(e) for e in expected.tolist()]


def test_numbers_are_readable_on_every_colour_of_both_scales():
    """light.text_colour gives at least 4.5:1 contrast on every colour of the diverging and the
    sequential scale."""
    for signed in (True, False):
        for rgb in images.colorize(np.linspace(-1, 1, 201), -1.0, 1.0, signed).tolist():
            assert _contrast(rgb, _hex(light.text_colour(rgb))) >= 4.5, rgb


def test_strip_has_one_column_per_value_in_the_heatmap_colours():
    """images.strip: (height, N, 3), every row the vector's colours over its range."""
    v = np.array([0.0, 0.5, 2.0, 1.0], np.float32)
    out = images.strip(v, height=5)
    assert out.shape == (5, 4, 3) and out.dtype == np.uint8
    expected = images.colorize(v[None, :], 0.0, 2.0, signed=False)[0]
    assert all(np.array_equal(row, expected) for row in out)


def test_an_image_with_a_width_is_enlarged_to_it_not_left_at_its_natural_size():
    """A one-pixel-per-value PNG given a width fills that width (Streamlit's markdown images
    have object-fit: scale-down, which kept them at their natural few pixels)."""
    html = light.image("data:image/png;base64,AAAA", "conv1: 8 maps", 84)
    style = html.split("style='")[1]
    assert "width:84px" in style and "object-fit:fill" in style and "height:auto" in style
    assert "alt='conv1: 8 maps'" in html
