"""The page registry: every page of the app and its shareable settings, written once.

The router (app.py), the overview's "Explain" links (layout.stage_page), the share links
(ui/links.py) and the tests read this table. Adding a page is one ``Page(...)`` below plus its
script in app_pages/.

A page's ``settings`` are the widget keys a share link may set, with their link schema and
bounds (``Widget``). Pages read the static bounds and defaults from here
(``layout.keep(key)`` clamps the value, the widget takes ``lo``/``hi``), so a range such as the
pooling window 1..5 is written once. Bounds that depend on the model (a channel, a row of this
map) are clamped again by the page; the registry's range is then the outer bound a link may hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnn_core import toy
from cnn_core.ops import ACTIVATIONS
from cnn_core.share import Setting

from . import theme


@dataclass(frozen=True)
class Widget(Setting):
    """A shareable widget value: cnn_core.share.Setting's kind, bounds and choices, and the
    widget's default when it does not depend on the model (None: the page works it out)."""

    default: Any = None


@dataclass(frozen=True)
class Page:
    """One page of the app."""

    slug: str  # a share link's page=..., and the URL path (the home page is served at /)
    file: str  # the page script, relative to app.py
    title: str  # navigation label and page heading
    icon: str  # Material icon
    kinds: tuple[str, ...] = ()  # the Trace stage kinds it explains (the overview's links)
    settings: dict[str, Widget] = field(default_factory=dict)  # widget key -> schema, bounds

    @property
    def url_path(self) -> str:
        """The page's URL path: empty for the home page (Streamlit's default page)."""
        return "" if self is PAGES[0] else self.slug


def _int(lo: int, hi: int, default: int | None = None) -> Widget:
    return Widget("int", lo, hi, default=default)


def _float(lo: float, hi: float, default: float | None = None) -> Widget:
    return Widget("float", lo, hi, default=default)


def _bool(default: bool | None = None) -> Widget:
    return Widget("bool", default=default)


def _choice(choices, default=None, names=()) -> Widget:
    return Widget("choice", choices=tuple(choices), default=default, names=tuple(names))


def _grid(max_size: int) -> Widget:
    return Widget("grid", max_size=max_size)


def _stages(prefix: str) -> Widget:
    return _choice(f"{prefix}{block}" for block in (1, 2, 3))


# The Convolution page's tabs (its st.tabs key is "conv_tab"): the word a link uses -> the label.
CONV_TABS = {"model": "Your input and model", "editor": "Kernel editor", "toy": "Toy playground"}
# The Activation page's tabs under the maps (st.tabs key "act_view"), likewise.
ACT_VIEWS = {"curve": "The function's curve", "changed": "Changed cells"}
# What it looks at: one tab per method (st.tabs key "attr_method"), likewise.
ATTR_METHODS = {"saliency": "Saliency", "occlusion": "Occlusion", "gradcam": "Grad-CAM"}
_INDEX = _int(0, 64)  # row / column / channel indices: every model map fits in 0..64
_COLOR = _choice(theme.COLOR_MODES, "per layer")
_SOURCE = _choice(("model", "toy"), "model")  # the "Work on" switch

PAGES = (
    Page(
        "draw",
        "app_pages/page_draw.py",
        "Draw & predict",
        ":material/draw:",
        kinds=("input",),
        settings={"draw_center": _bool(True), "draw_brush": _int(8, 40, 20)},
    ),
    Page(
        "convolution",
        "app_pages/page_convolution.py",
        "Convolution",
        ":material/filter_center_focus:",
        kinds=("conv",),
        settings={
            "conv_tab": _choice(CONV_TABS.values(), names=CONV_TABS),
            "conv_layer": _stages("conv"),
            "conv_channel": _INDEX,
            "conv_row": _INDEX,
            "conv_col": _INDEX,
            "conv_color_mode": _COLOR,
            "conv_preset": _choice(toy.KERNEL_PRESETS, "Sobel x"),
            "conv_kernel": _grid(7),
            "conv_target": _INDEX,
            "conv_toy_image": _grid(14),
            "conv_toy_kernel": _grid(9),
            "conv_toy_k": _int(1, 9, 3),
            "conv_toy_stride": _int(1, 4, 1),
            "conv_toy_padding": _int(0, 3, 0),
            "conv_toy_dilation": _int(1, 3, 1),
            "conv_toy_row": _INDEX,
            "conv_toy_col": _INDEX,
            "ex_open_convolution": _bool(False),
        },
    ),
    Page(
        "activation",
        "app_pages/page_activation.py",
        "Activation",
        ":material/show_chart:",
        kinds=("activation", "norm"),  # batch norm: a section of its own on this page
        settings={
            "act_source": _SOURCE,
            "act_layer": _stages("act"),
            "act_channel": _INDEX,
            "act_function": _choice(ACTIVATIONS),
            "act_slope": _float(0.0, 0.5, 0.01),
            "act_row": _INDEX,
            "act_col": _INDEX,
            "act_color_mode": _COLOR,
            "act_toy_bias": _float(-10.0, 10.0, -2.0),
            "act_toy_image": _grid(14),
            "act_toy_kernel": _grid(7),
            "norm_layer": _stages("norm"),
            "norm_channel": _INDEX,
            "act_view": _choice(ACT_VIEWS.values(), names=ACT_VIEWS),
            "ex_open_activation": _bool(False),
        },
    ),
    Page(
        "pooling",
        "app_pages/page_pooling.py",
        "Pooling",
        ":material/grid_view:",
        kinds=("pool",),
        settings={
            "pool_source": _SOURCE,
            "pool_layer": _stages("pool"),
            "pool_channel": _INDEX,
            "pool_mode": _choice(("max", "avg")),
            "pool_size": _int(1, 5),
            "pool_stride": _int(1, 5),
            "pool_ceil": _bool(),
            "pool_row": _INDEX,
            "pool_col": _INDEX,
            "pool_all_winners": _bool(False),
            "pool_shift": _choice(("up", "down", "left", "right"), "right"),
            "pool_color_mode": _COLOR,
            "pool_toy_input": _choice(("conv", "image"), "conv"),
            "pool_toy_image": _grid(14),
            "pool_toy_kernel": _grid(7),
            "ex_open_pooling": _bool(False),
        },
    ),
    Page(
        "flatten",
        "app_pages/page_flatten.py",
        "Flatten",
        ":material/view_stream:",
        kinds=("flatten",),
        settings={
            "flat_source": _SOURCE,
            "flat_index": _int(0, 64 * 28 * 28),
            "flat_c": _INDEX,
            "flat_h": _INDEX,
            "flat_w": _INDEX,
            "flat_color_mode": _COLOR,
            "flat_toy_image": _grid(14),
            "flat_toy_kernel": _grid(3),
            "flat_pick_all": _bool(False),
            "ex_open_flatten": _bool(False),
        },
    ),
    Page(
        "dense",
        "app_pages/page_dense.py",
        "Dense & softmax",
        ":material/hub:",
        kinds=("dense", "softmax"),
        settings={
            "dense_source": _SOURCE,
            "dense_class": _INDEX,
            "dense_spots": _int(1, 10, 3),  # the largest contributions shown on their maps
            "softmax_temperature": _float(0.1, 10.0, 1.0),
            "softmax_label": _INDEX,
            "dense_toy_x": _grid(14),
            "dense_toy_w": _grid(14),
            "dense_toy_b": _grid(14),
            "ex_open_dense": _bool(False),
        },
    ),
    Page(
        "attribution",
        "app_pages/page_attribution.py",
        "What it looks at",
        ":material/visibility:",
        kinds=(),
        settings={
            "attr_method": _choice(ATTR_METHODS.values(), names=ATTR_METHODS),
            "attr_class": _INDEX,
            "attr_compare": _bool(True),
            "attr_other": _INDEX,
            # patch and stride up to 64: the core refuses what does not fit, with a sentence
            "attr_patch": _int(1, 64, 4),
            "attr_stride": _int(1, 64, 2),
            "attr_fill": _float(0.0, 1.0, 0.0),
            "attr_occ_row": _INDEX,
            "attr_occ_col": _INDEX,
            "attr_stage": _choice(f"{s}{b}" for b in (1, 2, 3) for s in ("conv", "act", "pool")),
        },
    ),
    Page(
        "training",
        "app_pages/page_training.py",
        "Training",
        ":material/monitoring:",
        kinds=(),
        settings={"train_true": _int(0, 9), "train_pred": _int(0, 9)},
    ),
)
HOME = PAGES[0]
# Link settings every page takes; they set no widget (ui/links.py puts them in session state).
LINK_EXTRAS: dict[str, Widget] = {
    "tour": _bool(False),  # tour=1: the page opens with its guided tour (ui/tour.py)
    "seed": _int(0, 999_999),  # the exercises' seed: a class with one link gets the same ones
}
BY_SLUG = {page.slug: page for page in PAGES}
BY_URL = {page.url_path: page for page in PAGES}  # st.Page.url_path -> Page
WIDGETS = {key: widget for page in PAGES for key, widget in page.settings.items()}


def for_kind(kind: str) -> Page | None:
    """The page that explains a Trace stage kind ("conv", "pool", ...), if there is one."""
    return next((page for page in PAGES if kind in page.kinds), None)
