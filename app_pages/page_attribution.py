"""What it looks at: where in the current input a class's score comes from, by saliency,
occlusion and Grad-CAM (cnn_core.attribution computes them), each drawn over the input with its
colour scale, its numbers on hover and in words, for one class or two side by side. One tab per
method, and only the open one is drawn and computed."""

import numpy as np
import streamlit as st

from cnn_core import attribution
from ui import attribution_view as view
from ui import cell_pick, images, layout, light, pages, state

METHODS = {
    "saliency": attribution.saliency,
    "occlusion": attribution.occlusion,
    "grad_cam": attribution.grad_cam,
}
FILLS = {0.0: "black, no ink", 1.0: "white, full ink"}
OCCLUSION_CHARTS = ("attr_occlusion_0", "attr_occlusion_1")  # show_row's keys: one per class
# The methods' settings, kept over a run whose open tab does not draw them (Streamlit drops the
# values of widgets a run does not draw; cell_pick.keep puts them back), so a share link made on
# any tab holds them all.
TAB_KEYS = ("attr_patch", "attr_stride", "attr_fill", "attr_occ_row", "attr_occ_col", "attr_stage")
TAB_KEYS += ("attr_method",)  # and the open tab itself, over a visit to another page


@st.cache_data(max_entries=256, show_spinner=False)
def _cached(method: str, version: str, digest: str, args: tuple, _model, _image) -> np.ndarray:
    """One map, cached per (method, model version, input digest, class and settings): a rerun
    that changes nothing else costs no forward pass."""
    return METHODS[method](_model, _image, *args)


def compute(method: str, chosen, *args) -> list[np.ndarray] | None:
    """The map of each chosen class for the current model and input, or None once the core's
    sentence about a bad setting is shown."""
    info, image = state.current_model(), state.current_input()
    try:
        return [
            _cached(method, info.version, state.digest(image), (k, *args), info.model, image)
            for k in chosen
        ]
    except ValueError as err:
        st.error(sentence(err), icon=":material/error:")
        return None


@st.cache_data(max_entries=32, show_spinner=False)
def _fields(config_key: str, stage: str, shape: tuple, _config) -> np.ndarray:
    """(h, w, 4): the receptive field (top, left, bottom, right) of every cell of ``stage``."""
    h, w = shape
    rows = [[attribution.receptive_field(_config, stage, i, j) for j in range(w)] for i in range(h)]
    return np.array(rows, dtype=np.float32)


def sentence(err: ValueError) -> str:
    """The core's message as a sentence: a capital first, a full stop last."""
    text = str(err).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def choose_classes(trace, names) -> list[int]:
    """The class to explain (the prediction unless chosen) and, when comparing, a second one
    (the runner-up unless chosen): one or two different class indices."""
    top, p = len(names) - 1, trace.probabilities
    layout.keep_int("attr_class", 0, top, trace.prediction)
    ranked = [int(k) for k in np.argsort(p)[::-1] if k != st.session_state["attr_class"]]
    layout.keep_int("attr_other", 0, top, ranked[0] if ranked else 0)
    layout.keep_bool("attr_compare", True)
    label = lambda k: f"{names[k]} (p = {p[k]:.1%})"  # noqa: E731
    cols = st.columns([2, 1, 2], vertical_alignment="bottom")
    k = cols[0].selectbox("Explain class", range(len(names)), format_func=label, key="attr_class")
    compare = cols[1].toggle("Compare", key="attr_compare", help="Show a second class beside it")
    other = cols[2].selectbox(
        "…and not class", range(len(names)), format_func=label, key="attr_other",
        disabled=not compare,
    )  # fmt: skip
    if compare and other != k:
        st.markdown(
            f"**Why {names[k]} and not {names[other]}?** {layout.prose('attribution_compare')}"
        )
        return [int(k), int(other)]
    if compare:
        st.caption("Choose two different classes to see them side by side.")
    return [int(k)]


def show_row(figures, texts, key: str, pick: bool = False) -> None:
    """One map per class side by side, each with its text alternative under it; with ``pick``
    a click on a map selects a cell (ui/cell_pick.py)."""
    clicks = cell_pick.PICK if pick else {}
    for i, (col, fig, text) in enumerate(zip(st.columns(2), figures, texts, strict=False)):
        col.plotly_chart(fig, key=f"{key}_{i}", width="content", alt=text, **clicks)
        col.caption(text)


def numbers(what: str, maps, titles, key: str) -> None:
    """Every number of the maps, on demand (a table per class), filled only while open: two
    dataframes per method cost the browser more than the maps."""
    box = st.expander(f"Numbers as a table (the {what})", key=key, on_change="rerun")
    if not box.open:
        return
    with box:
        for values, title in zip(maps, titles, strict=True):
            st.caption(title)
            st.dataframe(np.round(np.asarray(values, dtype=np.float64), 5))


def _top_words(values, where: str, digits: str = ".4g") -> str:
    """'Largest value **v** at <where> (r, c); then v2 at (r, c) and v3 at (r, c).'"""
    (v, r, c), *rest = view.largest(values)
    text = f"Largest value **{view.number(v, digits)}** at {where} ({r}, {c})"
    then = " and ".join(f"{view.number(x, digits)} at ({i}, {j})" for x, i, j in rest)
    return text + (f"; then {then}." if then else ".")


def saliency_section(image, chosen, names) -> None:
    st.subheader("Saliency: the pixels the score is most sensitive to")
    st.markdown(layout.prose("attribution_saliency"))
    maps = compute("saliency", chosen)
    if maps is None:
        return
    zrange, scale = view.shared_range(maps, signed=False)
    hover = ("pixel (%{y}, %{x})<br>|∂ logit / ∂ pixel| %{z:.4g}"
             "<br>input %{customdata[0]:.3f}")  # fmt: skip
    figures, texts = [], []
    for k, values in zip(chosen, maps, strict=True):
        figures.append(view.overlay(
            values, image, view.Placement.pixels(), zrange, scale, hover=hover,
            title=f"saliency of class {names[k]}", bar="|∂ logit / ∂ pixel|",
            customdata=view.stack_data(image),
        ))  # fmt: skip
        texts.append(
            f"Saliency of class {names[k]}, one cell per input pixel, the ink outlined in "
            f"white; colour {view.scale_words(zrange, False)}. {_top_words(values, 'pixel')}"
        )
    show_row(figures, texts, "attr_saliency")
    numbers("saliency maps", maps, [f"class {names[k]}" for k in chosen], "attr_saliency_table")


def occlusion_settings() -> tuple[int, int, float]:
    """Patch size, stride and fill widgets (the core checks them against the image)."""
    p, s, f = (layout.keep(key) for key in ("attr_patch", "attr_stride", "attr_fill"))
    cols = st.columns(3)
    patch = cols[0].number_input("Patch size (pixels)", p.lo, p.hi, step=1, key="attr_patch")
    stride = cols[1].number_input("Patch stride (pixels)", s.lo, s.hi, step=1, key="attr_stride")
    fill = cols[2].slider(
        "Fill of the patch", f.lo, f.hi, step=0.05, key="attr_fill",
        help="0 is black (no ink, like the background), 1 is white (full ink).",
    )  # fmt: skip
    return int(patch), int(stride), float(fill)


def occlusion_cell(n: int) -> tuple[int, int]:
    """A click on an occlusion map (read before the sliders) or the sliders (the keyboard
    path) choose the patch whose masked image is shown."""
    cell_pick.apply(OCCLUSION_CHARTS, ("attr_occ_row", "attr_occ_col"), (n, n))
    layout.keep_int("attr_occ_row", 0, n - 1, n // 2)
    layout.keep_int("attr_occ_col", 0, n - 1, n // 2)
    cols = st.columns(2)
    row = cols[0].slider("Patch row i", 0, max(n - 1, 1), key="attr_occ_row", disabled=n == 1)
    col = cols[1].slider("Patch column j", 0, max(n - 1, 1), key="attr_occ_col", disabled=n == 1)
    return min(int(row), n - 1), min(int(col), n - 1)


def occlusion_section(trace, image, chosen, names) -> None:
    st.subheader("Occlusion: what covering a patch does to the probability")
    st.markdown(layout.prose("attribution_occlusion"))
    patch, stride, fill = occlusion_settings()
    maps = compute("occlusion", chosen, patch, stride, fill)
    if maps is None:
        return
    n, size = maps[0].shape[0], image.shape[-1]
    st.markdown(
        f"Patch {patch} x {patch}, stride {stride}: **{n} x {n}** positions, "
        f"n = ⌊({size} − {patch}) / {stride}⌋ + 1 = {n}; {n * n} masked images in one batch."
    )
    row, col = occlusion_cell(n)
    box = view.patch_box(row, col, patch, stride, size)
    occlusion_maps(trace, image, maps, chosen, names, (patch, stride, box))
    masked_view(trace, image, maps, chosen, names, (row, col, box, fill))
    titles = [f"class {names[k]}: drop in p per patch" for k in chosen]
    numbers("occlusion maps", maps, titles, "attr_occlusion_table")


def occlusion_maps(trace, image, maps, chosen, names, where) -> None:
    """The occlusion map of each class over the input, the chosen patch dashed."""
    patch, stride, box = where
    n, size = maps[0].shape[0], image.shape[-1]
    zrange, scale = view.shared_range(maps, signed=True)
    bounds = view.patch_grid(n, patch, stride, size)  # (n, n, 4)
    hover = ("patch (%{customdata[0]}, %{customdata[1]}): rows %{customdata[2]}–%{customdata[4]}"
             ", columns %{customdata[3]}–%{customdata[5]}<br>drop in p %{customdata[7]:+.4f}"
             "<br>p with it covered %{customdata[6]:.2%}")  # fmt: skip
    figures, texts = [], []
    rows, cols = np.indices((n, n))
    place = view.Placement.patches(patch, stride)
    for k, drop in zip(chosen, maps, strict=True):
        after = view.tidy(trace.probabilities[k] - drop, 6)  # p with each patch covered
        data = view.stack_data(rows, cols, *np.moveaxis(bounds, -1, 0), after, view.tidy(drop))
        fig = view.overlay(
            drop, image, place, zrange, scale, hover=hover, customdata=data, boxes=[box],
            title=f"occlusion for class {names[k]} (click a patch)", bar="drop in p",
        )  # fmt: skip
        figures.append(cell_pick.add_markers(
            fig, drop, size_px=stride * view.CELL_PX, first=place.first, step=place.step,
            customdata=data, hovertemplate=hover + "<br>click to show it covered<extra></extra>",
        ))  # fmt: skip
        texts.append(
            f"Occlusion for class {names[k]}: each cell is drawn at the centre of the patch it "
            f"covered, the ink outlined in white and the chosen patch dashed; colour "
            f"{view.scale_words(zrange, True)} (red: covering it lowers p). "
            + _top_words(drop, "patch", "+.4f")
        )
    show_row(figures, texts, "attr_occlusion", pick=True)


def masked_html(masked, box, alt: str) -> str:
    """The covered input as an image (view.CELL_PX screen pixels per input pixel, white ink on
    black) under its title, the covered patch dashed over it, ``alt`` its text alternative."""
    size = np.shape(masked)[-1]
    px = view.CELL_PX
    uri = images.data_uri(images.grayscale(masked, px))
    top, left, bottom, right = box
    share = 100 / size  # percent of the image per input pixel: the patch stays on its pixels
    dash = (
        f"position:absolute;left:{left * share:.4f}%;top:{top * share:.4f}%;"
        f"width:{(right - left + 1) * share:.4f}%;height:{(bottom - top + 1) * share:.4f}%;"
        f"box-sizing:border-box;border:3px dashed {view.PICK['color']}"
    )
    return (
        "<figure class='cs-masked' style='margin:0'><figcaption style='font-size:13px;"
        "font-weight:600'>what the model sees</figcaption>"
        f"<div style='position:relative;width:{size * px}px;max-width:100%'>"
        f"{light.image(uri, alt)}"
        f"<div aria-hidden='true' style='{dash}'></div></div></figure>"
    )


def masked_view(trace, image, maps, chosen, names, where) -> None:
    """The input as the model saw it with the chosen patch covered, and p before and after."""
    row, col, box, fill = where
    top, left, bottom, right = box
    covered = f"rows {top}–{bottom} and columns {left}–{right}"
    fill_words = FILLS.get(fill, "grey")
    text = (f"The input with patch ({row}, {col}) covered: {covered} set to {fill:g} "
            f"({fill_words}), dashed.")  # fmt: skip
    left_col, right_col = st.columns(2)
    masked = view.masked_image(image, box, fill)
    # An image, not a Plotly chart: the grey input needs no colour bar or hover (its numbers
    # are in the table under it), and the page has one chart fewer to draw.
    left_col.markdown(masked_html(masked, box, text), unsafe_allow_html=True)
    left_col.caption(text)
    with left_col:
        layout.numbers_table(
            masked, "attr_masked", "the covered input", open_key="attr_masked_table"
        )
    lines = [f"Covering patch ({row}, {col}), {covered}, with {fill:g} ({fill_words}):"]
    for k, drop in zip(chosen, maps, strict=True):
        before, value = float(trace.probabilities[k]), float(drop[row, col])
        after = view.number(before - value, ".2%")
        lines.append(f"- class **{names[k]}**: p = {before:.2%} → **{after}**, "
                     f"a drop of **{view.number(value, '+.4f')}** (the map's cell ({row}, "
                     f"{col}))")  # fmt: skip
    right_col.markdown("\n".join(lines))


def gradcam_stage(config) -> tuple[str, tuple[int, ...]] | None:
    """The stage widget: a conv, activation or pool stage (the last conv unless chosen)."""
    stages = {name: (kind, shape) for name, kind, shape in attribution.spatial_stages(config)}
    if not stages:
        st.info("This model has no conv, activation or pool stage, so there is no Grad-CAM.")
        return None
    names = list(stages)
    convs = [name for name in names if stages[name][0] == "conv"]
    layout.keep_choice("attr_stage", names, (convs or names)[-1])
    fmt = lambda s: f"{s} ({stages[s][0]}, {stages[s][1][1]} x {stages[s][1][2]})"  # noqa: E731
    stage = st.selectbox("Stage", names, format_func=fmt, key="attr_stage")
    return stage, stages[stage][1]


def gradcam_section(image, chosen, names) -> None:
    st.subheader("Grad-CAM: where the maps of a stage speak for the class")
    st.markdown(layout.prose("attribution_gradcam"))
    config = state.current_model().model.config
    picked = gradcam_stage(config)
    maps = None if picked is None else compute("grad_cam", chosen, picked[0])
    if maps is None:
        return
    stage, (_, h, w) = picked
    size = image.shape[-1]
    side = dict(attribution.field_sizes(config))[stage]
    st.markdown(
        f"{stage} has **{h} x {w}** cells: each is drawn over about {size / h:.3g} x "
        f"{size / w:.3g} input pixels, and sees up to {side} x {side} (its receptive field)."
    )
    fields = _fields(repr(config), stage, (h, w), config)  # (h, w, 4)
    gradcam_maps(image, maps, chosen, names, stage, fields)
    numbers(
        f"Grad-CAM maps of {stage}", maps, [f"class {names[k]}" for k in chosen],
        "attr_gradcam_table",
    )  # fmt: skip


def gradcam_maps(image, maps, chosen, names, stage, fields) -> None:
    """The Grad-CAM of each class over the input, with each cell's receptive field on hover."""
    zrange, scale = view.shared_range(maps, signed=False)
    h, w = maps[0].shape
    rows, cols = np.indices((h, w))
    data = view.stack_data(rows, cols, *np.moveaxis(fields, -1, 0))
    hover = (f"{stage} cell (%{{customdata[0]}}, %{{customdata[1]}})<br>Grad-CAM %{{z:.4g}}"
             "<br>sees rows %{customdata[2]}–%{customdata[4]}, "
             "columns %{customdata[3]}–%{customdata[5]}")  # fmt: skip
    figures, texts = [], []
    for k, cam in zip(chosen, maps, strict=True):
        figures.append(view.overlay(
            cam, image, view.Placement.spread(h, image.shape[-1]), zrange, scale, hover=hover,
            title=f"Grad-CAM of class {names[k]} at {stage}", bar="Grad-CAM", customdata=data,
        ))  # fmt: skip
        texts.append(
            f"Grad-CAM of class {names[k]} at {stage}, {h} x {w} cells spread over the input, "
            f"the ink outlined in white; colour {view.scale_words(zrange, False)}. "
            + gradcam_words(cam, fields)
        )
    show_row(figures, texts, "attr_gradcam")


def gradcam_words(cam, fields) -> str:
    """The largest Grad-CAM cell and the input pixels it sees, or why the map is empty."""
    (value, r, c), *_ = view.largest(cam, 1)
    if value <= 0:
        return (
            "It is 0 everywhere: at every cell the weighted sum of this stage's maps is 0 or "
            "below, and the ReLU keeps only what speaks for the class. Try another stage."
        )
    top, left, bottom, right = (int(x) for x in fields[r, c])
    return (f"Largest value **{value:.4g}** at cell ({r}, {c}), which sees input rows "
            f"{top}–{bottom} and columns {left}–{right}.")  # fmt: skip


st.title("What it looks at")
st.markdown(layout.prose("attribution"))
trace = layout.input_trace()
if trace is not None:
    class_names = state.current_model().class_names
    chosen_classes = choose_classes(trace, class_names)
    image = state.current_input()
    # One method at a time: the three together were 6 Plotly charts and three computations on
    # every visit. A click on a tab reruns the page to draw it; a link reopens its tab.
    cell_pick.keep(TAB_KEYS)
    tabs = st.tabs(list(pages.ATTR_METHODS.values()), key="attr_method", on_change="rerun")
    sections = (
        lambda: saliency_section(image, chosen_classes, class_names),
        lambda: occlusion_section(trace, image, chosen_classes, class_names),
        lambda: gradcam_section(image, chosen_classes, class_names),
    )
    for tab, section in zip(tabs, sections, strict=True):
        if tab.open:
            with tab:
                section()
