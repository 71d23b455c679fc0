"""Light HTML for the page that is redrawn on every stroke (Draw & predict): the class
probabilities as bars and a row of numbers in coloured cells, as small HTML tables.

A Plotly chart costs the browser tens of milliseconds to draw on every stroke; a table of ten
rows costs next to nothing, and its text is its own text alternative (a screen reader reads the
classes and their numbers). The cells are coloured with the same colour scales as the heatmaps
and montages (ui/images.py), their numbers printed as grids print them (theme.cell_text), in
black or white, whichever contrasts more with the cell.
"""

from __future__ import annotations

from html import escape

import numpy as np

from . import images, theme

HIGHLIGHT = "#d62728"  # the predicted class's bar, as charts.probability_bars
BAR = "#9aa7b8"  # every other bar
TABLE_CSS = "border-collapse:collapse;margin:0 0 0.5rem 0;font-size:0.9rem"
CELL_CSS = "padding:1px 6px;border:none"


def probability_bars(probabilities, class_names, highlight=None) -> str:
    """The class probabilities as a table of horizontal bars with their values (one decimal of a
    percent); the highlighted class (the predicted one by default) is red, bold and marked
    "predicted" in words, so it is not told by colour alone."""
    p = np.asarray(probabilities, dtype=np.float64)
    highlight = int(np.argmax(p)) if highlight is None else highlight
    rows = []
    for k, (name, value) in enumerate(zip(class_names, p, strict=True)):
        chosen = k == highlight
        bar = (
            f"<div style='width:{max(0.0, min(1.0, value)) * 100:.1f}%;min-width:1px;height:0.8em;"
            f"background:{HIGHLIGHT if chosen else BAR}'></div>"
        )
        weight = "font-weight:700;" if chosen else ""
        mark = " ◀ predicted" if chosen else ""
        rows.append(
            f"<tr style='{weight}'><th scope='row' style='{CELL_CSS};text-align:right'>"
            f"{escape(str(name))}</th><td style='{CELL_CSS};width:60%'>{bar}</td>"
            f"<td style='{CELL_CSS};white-space:nowrap'>{value:.1%}{mark}</td></tr>"
        )
    head = (
        f"<tr><th scope='col' style='{CELL_CSS}'>class</th><th scope='col' style='{CELL_CSS}'>"
        f"bar</th><th scope='col' style='{CELL_CSS}'>probability</th></tr>"
    )
    return (
        f"<table class='cs-probabilities' style='{TABLE_CSS};width:100%'>"
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def text_colour(rgb) -> str:
    """Black or white, whichever has the higher WCAG contrast ratio with the colour ``rgb``."""
    linear = [(c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


def value_row(values, class_names, digits: int = 2, caption: str = "") -> str:
    """One value per class as a two-row table: the class names, then each value printed in a
    cell coloured by it (diverging around 0 when signed, as the heatmaps)."""
    v = np.asarray(values, dtype=np.float32)
    lo, hi = theme.value_range(v)
    colours = images.colorize(v[None, :], lo, hi, theme.is_signed(v))[0]  # (N, 3) uint8
    names = "".join(
        f"<th scope='col' style='{CELL_CSS};text-align:center'>{escape(str(n))}</th>"
        for n in class_names
    )
    cells = "".join(
        f"<td style='{CELL_CSS};text-align:center;background:rgb({r},{g},{b});"
        f"color:{text_colour((r, g, b))}'>{theme.cell_text(x, digits)}</td>"
        for x, (r, g, b) in zip(v, colours.tolist(), strict=True)
    )
    head = f"<caption style='caption-side:bottom;text-align:left'>{escape(caption)}</caption>"
    return (
        f"<table class='cs-value-row' style='{TABLE_CSS}'>{head if caption else ''}"
        f"<thead><tr>{names}</tr></thead><tbody><tr>{cells}</tr></tbody></table>"
    )


def image(uri: str, alt: str, width: int | None = None) -> str:
    """An <img> of a data URI with its text alternative, drawn with crisp pixels; ``width``
    (pixels, at most the container's width) enlarges a small image in the browser, which is
    much cheaper than encoding it enlarged."""
    size = f"width:{width}px;max-width:100%;" if width else "max-width:100%;"
    return (
        f"<img src='{uri}' alt='{escape(alt, quote=True)}' "
        f"style='{size}height:auto;object-fit:fill;image-rendering:pixelated;display:block'>"
    )


def figure_row(items, width: int | None = None) -> str:
    """Images side by side, each over its caption: ``items`` are (data URI, alt, caption);
    ``width``: every image shown that many pixels wide (at most its share of the row)."""
    cells = "".join(
        "<figure style='margin:0;text-align:center;flex:1;display:flex;flex-direction:column;"
        f"align-items:center'>{image(uri, alt, width)}"
        f"<figcaption style='font-size:0.8rem;opacity:0.75'>{escape(caption)}</figcaption>"
        "</figure>"
        for uri, alt, caption in items
    )
    return f"<div class='cs-figure-row' style='display:flex;gap:8px'>{cells}</div>"


def stage_table(rows) -> str:
    """The overview of every stage as one table: ``rows`` are (stage name, kind, shape text,
    cell HTML: its output as an image or a row of numbers, with a note under it)."""
    body = "".join(
        f"<tr><th scope='row' style='{CELL_CSS};text-align:left;vertical-align:top;"
        f"white-space:nowrap'>{escape(name)} · {escape(kind)}<br>"
        f"<code>{escape(shape)}</code></th><td style='{CELL_CSS};padding-bottom:10px'>{cell}</td>"
        "</tr>"
        for name, kind, shape, cell in rows
    )
    head = (
        f"<tr><th scope='col' style='{CELL_CSS};text-align:left'>stage</th>"
        f"<th scope='col' style='{CELL_CSS};text-align:left'>its output for this input</th></tr>"
    )
    return (
        f"<table class='cs-stages' style='{TABLE_CSS};width:100%'>"
        f"<thead>{head}</thead><tbody>{body}</tbody></table>"
    )


def note(text: str) -> str:
    """A caption-like line under an image in a table cell."""
    return f"<div style='font-size:0.8rem;opacity:0.75'>{escape(text)}</div>"


def prompt(text: str) -> str:
    """What to do next, in a tinted box as Streamlit's info boxes draw it (a translucent tint,
    so the text keeps the theme's colour and contrast in light and dark themes)."""
    return (
        "<div class='cs-prompt' role='note' style='padding:0.75rem 1rem;border-radius:0.5rem;"
        f"background:rgba(28,131,225,0.1);margin:0 0 1rem 0'>{escape(text)}</div>"
    )
