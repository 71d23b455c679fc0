"""Draw & predict: the ways to make an input (draw, pick a sample, upload a photo, key in a grid
without a mouse) side by side with the prediction, then every stage at a glance. The wording and
the samples follow the data set of the model in use (digits or clothes, ui/samples.py)."""

import copy
from html import escape

import numpy as np
import streamlit as st

from cnn_core import imagefile, preprocess_canvas
from cnn_core.share import safe_name
from ui import (
    canvas,
    images,
    keyboard_digit,
    layout,
    light,
    live,
    live_html,
    pages,
    samples,
    state,
    tour,
)

WAYS = ("Draw", "Pick a sample", "Upload a photo", "Keyboard")  # the ways to make an input
GALLERY_SIZE = 10  # samples of one class shown at once, two to a row
WAY_KEY = "draw_input_tab"  # the chosen way to make an input (only its content runs)
BACK_TO_DRAW = "draw_back_to_canvas"  # set when the learner comes back to Draw
FULL_RUN = "draw_full_run"  # True while a full run of the page draws the inputs
LIVE_KEYS = ("draw_result", "draw_overview")  # the live elements a stroke changes (ui/live_html)


def _subject() -> samples.Subject:
    return samples.subject_of(state.current_model().class_names)


def _model_line(info: state.ModelInfo) -> str:
    """What the model in use was trained on and which classes it tells apart, in one sentence."""
    if info.live:
        trained = f"is a run still training (its weights at {info.live})"
    else:
        trained = f"was trained on {info.trained_on}"
    classes = ", ".join(info.class_names)
    return f"The model in use {trained}; it tells apart {len(info.class_names)} classes: {classes}."


def _take_drawing(rgba, center: bool) -> None:
    """Turn a new canvas image into the current input; clear it when the canvas was cleared."""
    if rgba is None:
        # Only a canvas that showed strokes during this visit and now shows none was cleared by
        # the learner; a canvas freshly mounted after a page switch reports nothing at first.
        if st.session_state.get(state.CANVAS_SHOWED_INK) and st.session_state.get(
            state.CANVAS_SEEN
        ):
            st.session_state[state.CANVAS_SEEN] = None
            st.session_state[state.CANVAS_SHOWED_INK] = False
            st.session_state[state.CANVAS_DRAWING] = None
            if state.input_source() == "your drawing":
                state.set_input(None, "")
        return
    st.session_state[state.CANVAS_SHOWED_INK] = True
    seen = state.digest(rgba) + str(center)
    if seen == st.session_state.get(state.CANVAS_SEEN):
        return  # nothing new: keep whatever the current input is (a drawing or a sample)
    st.session_state[state.CANVAS_SEEN] = seen
    pre = preprocess_canvas(rgba, center=center)
    st.session_state[state.DRAW_PREPROCESSED] = pre
    state.set_input(None if pre.is_empty else pre.image, "your drawing")


def _steps_html(pre) -> str:
    """The preprocessing steps as small images with their sizes, in a row (images inside the
    HTML: no image request per stroke)."""
    items = []
    for name, img in pre.steps.items():
        size = f"{img.shape[0]}x{img.shape[1]}"
        alt = f"Preprocessing step '{name}' of {state.input_source()}: {size} pixels"
        uri = images.data_uri(images.square_thumbnail(img, 84))  # on a square, about 84 px
        items.append((uri, alt, f"{name} ({size})"))
    return light.figure_row(items, width=84)  # shown at one size


def _prediction_html(trace) -> str:
    """The predicted class in large type, its probability in words, and every class's
    probability as a table of bars (a table: its own text alternative)."""
    names = state.current_model().class_names
    p = trace.probabilities
    return (
        "<div class='cs-prediction' style='font-size:3.2rem;font-weight:700;line-height:1;"
        f"margin:0.25rem 0'>{escape(str(names[trace.prediction]))}</div>"
        f"<p>predicted with probability <strong>{p[trace.prediction]:.1%}</strong></p>"
        + light.probability_bars(p, names)
    )


def _overview_head() -> None:
    """Above the overview: its heading, the link to the page on attribution and the colour
    range of its maps (they do not change with a stroke)."""
    st.subheader("Every stage for this input")
    attribution = pages.BY_SLUG["attribution"]
    st.page_link(
        attribution.file,
        label=f"Why this prediction? {attribution.title}: saliency, occlusion and Grad-CAM",
        icon=attribution.icon,
    )
    layout.color_mode("draw_color_mode")


def _overview_html(trace) -> str:
    """Every stage in order: its output and its shape in one table (its images inside it), for
    one element changed in place; before there is an input it says so, so that a stroke
    changes it rather than building it."""
    mode = layout.color_mode_value("draw_color_mode")
    if trace is None:
        noun = _subject().noun
        return light.note(f"No input yet: draw a {noun} and each stage's output shows here.")
    global_values = layout.map_values(trace)
    rows = [
        (s.name, s.kind, layout.shape_text(s.shape), _stage_cell(s, mode, global_values))
        for s in trace.stages
    ]
    return light.stage_table(rows)


def _numbers(trace) -> None:
    """The numbers of any stage of maps (or the flattened vector) on demand: one expander,
    filled only while open (a stroke sends no table), with the stage to show."""
    box = st.expander("Numbers as a table (any stage)", key="draw_tables_open", on_change="rerun")
    if not box.open:
        return
    with box:
        if trace is None:
            st.caption("No input yet: the numbers of each stage show here once there is one.")
            return
        stages = [
            s for s in trace.stages
            if (s.output.ndim == 3 and s.kind != "input") or s.kind == "flatten"
        ]  # fmt: skip
        names = [s.name for s in stages]
        layout.keep_choice("draw_table_stage", names, names[0])
        name = st.selectbox("Stage", names, key="draw_table_stage")
        stage = stages[names.index(name)]
        layout.numbers_content(stage.output, f"draw_{name}", name)


def explain_links() -> None:
    """One link per page that explains a stage of the network in use, in the stages' order (the
    input's page is this one). They follow the architecture, not the input: drawn once per
    page run, under the overview, not again on every stroke."""
    linked = []
    kinds = [kind for _name, kind, _shape in state.current_model().model.config.shapes()]
    for page in (pages.for_kind(kind) for kind in kinds if kind != "input"):
        if page is not None and page not in linked:
            linked.append(page)
    st.caption("Each stage explained with its numbers, on its own page:")
    for col, page in zip(st.columns(len(linked)), linked, strict=True):
        col.page_link(page.file, label=page.title, icon=":material/arrow_forward:")


def _stage_cell(stage, mode, global_values) -> str:
    """One stage's output as HTML for the overview table: an image with its text alternative,
    or, for one value per class, the values printed in coloured cells."""
    names = state.current_model().class_names
    if stage.kind == "input":
        alt = f"{stage.name}: the 28x28 input image, {state.input_source()}, white ink on black"
        side = 3 * stage.output.shape[-1]  # 3 screen pixels per input pixel
        return light.image(images.data_uri(images.grayscale(stage.output[0], 1)), alt, side)
    if stage.output.ndim == 3:
        return _maps_cell(stage, mode, global_values)
    if stage.kind in ("softmax", "dense") and stage.output.size == len(names):
        digits = 2 if stage.kind == "dense" else 3
        return light.value_row(stage.output, names, digits)
    alt = layout.grid_alt(f"{stage.name}: a strip of one value per feature", stage.output)
    strip = light.image(images.data_uri(images.strip(stage.output)), alt)
    return strip + light.note(f"{stage.output.size} values, one column of pixels each")


def _maps_cell(stage, mode, global_values) -> str:
    """A (C, H, W) stage as one coloured image (alt: its description) and its colour range
    (layout.stage_maps, as HTML for the overview table). The image has one pixel per value and
    a pixel of white between maps; the browser enlarges it ``scale`` times (crisp pixels)."""
    maps = stage.output
    scale = max(2, 112 // maps.shape[1])
    tiles = images.montage(maps, mode, global_values, scale=1, ncols=8, gap=1)
    uri = images.data_uri(tiles)
    note = layout.range_note(maps, mode, global_values)
    width = tiles.shape[1] * scale
    return light.image(uri, layout.maps_alt(stage.name, maps), width) + light.note(note)


def _back_to_canvas() -> None:
    """Back on Draw during a visit, the canvas shows the learner's last drawing again,
    whatever the current input is (a sample picked meanwhile stays the input until the next
    stroke: a freshly mounted canvas reports nothing until it is drawn on)."""
    kept = st.session_state.get(state.CANVAS_DRAWING)
    st.session_state[state.CANVAS_INITIAL] = copy.deepcopy(kept)
    st.session_state[state.CANVAS_SHOWED_INK] = False


def _way_changed() -> None:
    """The input choice's callback: only the chosen way runs, so leaving Draw unmounts the canvas;
    coming back to it is marked so that the canvas shows the last drawing again. The upload
    control comes back empty, so the same photo uploaded again is read again."""
    way = st.session_state.get(WAY_KEY)
    if way == WAYS[0]:
        st.session_state[BACK_TO_DRAW] = True
    elif way == WAYS[2]:
        st.session_state.pop(state.UPLOAD_SEEN, None)


def _enter_canvas() -> None:
    """On entering the page, the canvas starts from the learner's last drawing (kept in the
    session) while it is still the current input; the copy stays fixed for the visit."""
    kept = st.session_state.get(state.CANVAS_DRAWING)
    keep = kept is not None and state.input_source() == "your drawing"
    st.session_state[state.CANVAS_INITIAL] = copy.deepcopy(kept) if keep else None
    st.session_state[state.CANVAS_SHOWED_INK] = False


def draw_input() -> None:
    """Draw: brush and centring switch, then the canvas (a fragment of its own)."""
    width = layout.keep("draw_brush")  # bounds and default in ui/pages.py
    brush = st.slider("Brush width", width.lo, width.hi, key="draw_brush")
    layout.keep("draw_center")
    center = st.toggle(
        "Centre by mass, as MNIST did",
        key="draw_center",
        help="Off: the drawing is only shrunk to 28x28, not cropped or centred",
    )
    st.caption("Draw here:")  # short: the canvas's toolbar overlaps the right of this line
    canvas_view(int(brush), bool(center))
    st.caption("The toolbar at the top right of the square has undo, redo and clear.")


@st.fragment
def canvas_view(brush: int, center: bool) -> None:
    """The canvas; a new stroke becomes the input. A stroke reruns only this fragment: the
    canvas and a relay (ui/live_html.relay) that puts the new prediction and overview into
    their elements beside and below, which a full run draws (live_view) and a stroke does
    not re-send."""
    if "canvas" not in st.session_state:  # the page or Draw is entered: a fresh canvas
        if st.session_state.pop(BACK_TO_DRAW, False):
            _back_to_canvas()
        else:
            _enter_canvas()
    try:
        rgba, drawing = canvas.drawing_canvas(
            "canvas", brush, st.session_state.get(state.CANVAS_INITIAL)
        )
    except canvas.CanvasImageError as err:
        st.error(f"The drawing could not be read ({err}). Clear the canvas and draw again.")
        rgba, drawing = None, None
    if drawing is not None:
        st.session_state[state.CANVAS_DRAWING] = drawing
    before = state.current_input()
    _take_drawing(rgba, center)
    changed = state.current_input() is not before
    if changed:
        live.drawing()  # live reruns for new weights wait while the learner draws
    if changed and (st.session_state.get("draw_tables_open") or tour.progress("draw").active):
        st.rerun()  # the numbers table or the tour card, outside this fragment, follow the stroke
    if changed and not st.session_state.get(FULL_RUN):
        live_html.relay(dict(zip(LIVE_KEYS, _live_markup(), strict=True)), key="draw_relay")
    else:  # a full run: live_view draws them after this; no new input: they show it already
        live_html.relay(None, key="draw_relay")


def _live_markup() -> tuple[str, str]:
    """The HTML of the prediction beside the inputs and of the overview below."""
    trace = state.current_trace()
    return _result_html(trace, _subject()), _overview_html(trace)


def keyboard_input(subject: samples.Subject) -> None:
    """Keyboard: a grid drawn with the arrow keys and Space (ui/keyboard_digit.py);
    Enter makes it the current input, preprocessed exactly as a drawing."""
    st.caption(
        f"Make a {subject.noun} without a mouse: Tab into the grid, move with the arrow keys, "
        "press Space to ink or clear a cell, and Enter to read the drawing."
    )
    kept = st.session_state.get(keyboard_digit.KEPT)
    bits = keyboard_digit.keyboard_grid("keyboard_grid", kept)
    if bits is None or bits == kept:
        return
    st.session_state[keyboard_digit.KEPT] = bits
    center = st.session_state.get("draw_center", True)
    pre = preprocess_canvas(keyboard_digit.grid_to_rgba(bits), center=center)
    if pre.is_empty:
        st.warning("The grid is blank: ink a few cells with Space, then press Enter.")
        return
    st.session_state[state.DRAW_PREPROCESSED] = pre
    state.set_input(pre.image, "your keyboard drawing")  # the prediction beside is drawn next


def _result_html(trace, subject: samples.Subject) -> str:
    """Beside the inputs, in one element changed in place on every stroke: the preprocessing
    steps of a drawing or photo, and the prediction (or what to do while there is none)."""
    parts = []
    pre = st.session_state.get(state.DRAW_PREPROCESSED)
    if pre is not None and state.input_source().startswith("your "):
        parts.append(_steps_html(pre))
    if trace is None:
        parts.append(light.prompt(
            f"Draw a {subject.noun} in the black square, or use the buttons above it to pick a "
            "sample or upload a photo: the prediction appears here, and every stage of the "
            "network below."
        ))  # fmt: skip
    else:
        parts.append(light.note(f"Current input: {state.input_source()}"))
        parts.append(_prediction_html(trace))
    return "".join(parts)


def _input_way() -> str:
    """The way to make an input (WAYS), chosen with one segmented control above its content
    (not st.tabs, whose tab bar the browser rebuilt at the start and end of every run, a
    stroke's included: README, "Draw to prediction")."""
    layout.keep_choice(WAY_KEY, WAYS, WAYS[0])  # a share link may have set it
    # key: WAY_KEY, spelt out for tests/test_tour.py, which reads the keys from the code
    return st.segmented_control(
        "Make an input", WAYS, required=True, key="draw_input_tab", on_change=_way_changed,
        label_visibility="collapsed", wrap=True,
    )  # fmt: skip


def live_view() -> None:
    """The ways to make an input beside the prediction, then the overview. Only the chosen
    way's content runs (a stroke does not rebuild the gallery's ten images and twelve
    buttons). The canvas is a fragment (canvas_view): a stroke reruns only the canvas, whose
    relay changes the prediction and the overview in place; the input choice, the brush, the
    tour card and the overview's heading are not re-sent. A full run draws the inputs first,
    so that the prediction, the overview and the tour card beside them follow what the inputs
    did."""
    subject = _subject()
    left, right = st.columns([2, 3])
    st.session_state[FULL_RUN] = True
    try:
        with left:
            fill = (draw_input, lambda: gallery(subject), lambda: upload(subject))
            fill += (lambda: keyboard_input(subject),)
            fill[WAYS.index(_input_way())]()
    finally:
        st.session_state[FULL_RUN] = False  # a stroke's fragment run sends through its relay
    result, overview = _live_markup()
    with right:
        tour.show("draw")  # after the inputs: a stroke is the input by now (its card completes)
        live_html.html(result, key=LIVE_KEYS[0])
    _overview_head()
    live_html.html(overview, key=LIVE_KEYS[1])
    _numbers(state.current_trace())


def _shown(test, label) -> np.ndarray:
    """Indices of the samples on show: the first of every class, or the first of one class."""
    if label == "any":
        classes = range(len(test.class_names))
        return np.array([np.flatnonzero(test.labels == k)[0] for k in classes])
    return np.flatnonzero(test.labels == label)[:GALLERY_SIZE]


def gallery(subject: samples.Subject) -> None:
    """Pick a held-out sample (random, or of a chosen class) as the current input."""
    test = samples.samples(subject)
    if test is None:
        st.info(_no_samples(subject))
        return
    cols = st.columns(2, vertical_alignment="bottom")
    label = cols[0].selectbox(
        "Class",
        ["any", *range(len(test.class_names))],
        key="gallery_class",
        format_func=lambda k: k if k == "any" else test.class_names[k],
    )
    if cols[1].button(f"Random {subject.noun}", key="gallery_random"):
        pool = np.arange(len(test)) if label == "any" else np.flatnonzero(test.labels == label)
        st.session_state[state.GALLERY_PICK] = int(np.random.default_rng().choice(pool))
    _thumbnails(subject, test, _shown(test, label), example=label != "any")
    pick = st.session_state.pop(state.GALLERY_PICK, None)
    if pick is not None:
        state.set_input(
            test.images[pick] / np.float32(255),
            samples.source(subject, pick, int(test.labels[pick])),
        )
        st.rerun()


def _thumbnails(subject, test, shown, example: bool) -> None:
    """The samples two to a row, each with a button named after what it does."""
    for start in range(0, len(shown), 2):
        cols = st.columns([1, 3, 1, 3], vertical_alignment="center")
        for k, index in enumerate(shown[start : start + 2]):
            index = int(index)
            name = samples.use_label(
                subject, int(test.labels[index]), start + k + 1 if example else None
            )
            alt = f"Held-out sample #{index}: {samples.item(subject, int(test.labels[index]))}"
            cols[2 * k].image(images.grayscale(test.images[index] / 255, 2), alt=alt)
            if cols[2 * k + 1].button(name, key=f"gallery_use_{index}", wrap=True):
                st.session_state[state.GALLERY_PICK] = index


def _no_samples(subject: samples.Subject) -> str:
    if subject.dataset is None:
        return (
            "This model has classes of its own, so there are no samples to pick here. "
            "Draw a picture or upload a photo instead."
        )
    return (
        "The held-out images of the model's data set are not on this server, so there are no "
        "samples to pick here. Draw or upload a photo instead."
    )


def upload(subject: samples.Subject) -> None:
    """A photo or scan (PNG or JPEG, checked by content) as the current input."""
    file = st.file_uploader(
        f"A photo of one {subject.noun}: PNG or JPEG, at most 5 MB and 4 megapixels. "
        "Dark on a light background is fine.",
        type=["png", "jpg", "jpeg"],
        key="draw_upload",
    )
    if file is None:
        return
    raw = file.getvalue()
    seen = state.digest(np.frombuffer(raw, np.uint8)) + str(st.session_state.get("draw_center"))
    if seen == st.session_state.get(state.UPLOAD_SEEN):
        return
    st.session_state[state.UPLOAD_SEEN] = seen
    name = safe_name(file.name)
    try:
        rgba = imagefile.read_image(raw)
    except imagefile.ImageFileError as err:
        st.error(f"'{name}' was not used: {err}. The current input is unchanged.")
        return
    pre = preprocess_canvas(rgba, center=st.session_state.get("draw_center", True))
    if pre.is_empty:
        st.warning(f"Nothing was found in '{name}': the picture looks blank.")
        return
    st.session_state[state.DRAW_PREPROCESSED] = pre
    state.set_input(pre.image, f"your photo '{name}'")
    st.rerun()


def header() -> None:
    """The heading and the text for the model in use, and what that model was trained on."""
    subject = _subject()
    st.title(subject.heading)
    st.markdown(layout.prose(subject.intro))
    st.caption(_model_line(state.current_model()))


header()
live_view()
explain_links()
