"""Colours, number formats and the colour-range mode shared by every figure.

Signed maps (conv outputs, weights, contributions) use a diverging scale centred on 0, so white
always means zero, red positive and blue negative. Non-negative maps (images, ReLU and pooling
outputs, probabilities) use a sequential scale from black.
"""

from __future__ import annotations

import numpy as np

DIVERGING = "RdBu_r"  # blue (negative) - white (0) - red (positive)
SEQUENTIAL = "Viridis"  # dark (0) to bright (large)
IMAGE = "gray"  # the digit itself: black background, white ink
CHANNEL_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

# The app's own styles (drawn once per page by layout.app_styles), for WCAG 2.1 AA contrast in
# both themes. Streamlit's code blocks colour comments, numbers and operators with one palette for
# light and dark (#808495 comments: 3.5:1 on the light code background, 4.2:1 on the dark one;
# #29b09d numbers: 2.5:1 on light). Each token colour is mixed here with the code's own text
# colour (currentColor: dark text in the light theme, light text in the dark one), so it keeps its
# hue and gets the contrast of the text in either theme; comments are italic as well.
APP_CSS = """
[data-testid="stCode"] .token.comment, [data-testid="stCode"] .token.punctuation {
  color: color-mix(in srgb, currentColor 70%, #808495); font-style: normal;
}
[data-testid="stCode"] .token.comment { font-style: italic; }
[data-testid="stCode"] .token.number, [data-testid="stCode"] .token.boolean {
  color: color-mix(in srgb, currentColor 55%, #0d9488);
}
[data-testid="stCode"] .token.operator, [data-testid="stCode"] .token.keyword {
  color: color-mix(in srgb, currentColor 55%, #ed6f13);
}
[data-testid="stCode"] .token.string, [data-testid="stCode"] .token.function {
  color: color-mix(in srgb, currentColor 55%, #2563eb);
}
/* Draw & predict's relay (ui/live_html.relay) only passes HTML on: it takes no room */
.st-key-draw_relay { display: none; }
/* Draw & predict's input choice: the chosen way's label in the text colour (Streamlit's
   accent on its tinted background is 4.47:1 in the light theme); its tint and border show it */
.st-key-draw_input_tab button[aria-checked="true"] { color: inherit !important; }
"""

COLOR_MODES = ("per map", "per layer", "global")
COLOR_MODE_HELP = (
    "per map: each map uses its own range (shows detail in faint maps); per layer: all maps of "
    "a stage share one range (compare channels); global: every stage shares one range "
    "(compare stages)."
)


def is_signed(values) -> bool:
    """True when the values have negatives, so a diverging scale centred on 0 fits."""
    return bool(np.nanmin(values) < 0)


def colorscale_for(values) -> str:
    return DIVERGING if is_signed(values) else SEQUENTIAL


def value_range(values, signed: bool | None = None) -> tuple[float, float]:
    """(zmin, zmax) for a set of values: symmetric around 0 when signed, from 0 otherwise."""
    values = np.asarray(values, dtype=np.float64)
    signed = is_signed(values) if signed is None else signed
    top = float(np.nanmax(np.abs(values))) if values.size else 0.0
    top = top if top > 0 else 1.0  # an all-zero map still gets a valid range
    return (-top, top) if signed else (0.0, top)


def map_ranges(maps: np.ndarray, mode: str, global_values=None) -> list[tuple[float, float]]:
    """One (zmin, zmax) per map of a (C, H, W) stage, following the colour-range mode."""
    if mode not in COLOR_MODES:
        raise ValueError(f"colour-range mode must be one of {', '.join(COLOR_MODES)}")
    signed = is_signed(maps if mode != "global" else global_values)
    if mode == "per map":
        return [value_range(m, signed) for m in maps]
    source = maps if mode == "per layer" else global_values
    return [value_range(source, signed)] * len(maps)


def cell_text(value: float, digits: int = 2) -> str:
    """A number printed inside a grid cell: always fixed decimals, so every cell is as wide."""
    text = f"{float(value):.{digits}f}"
    return "0" if float(text) == 0 else text
