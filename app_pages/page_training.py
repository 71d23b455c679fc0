"""Training: how the model learned (curves, epoch scrubber), what it gets wrong on held-out digits
(confusion matrix, examples to open), per-class accuracy, and the learned filters of every layer."""

import streamlit as st

from ui import charts, figures, grids, images, layout, pages, state, step_view, theme, tour
from ui import training_view as tv

EXAMPLES_PER_ROW = 6


def curves(view: tv.RunView | None, info) -> None:
    """The shown run's loss and accuracy per epoch (the session's last run, with the run before
    it dotted, or the default model's own training)."""
    st.subheader("Loss and accuracy per epoch")
    if view is None:
        whose = "the default model (shipped)"
        st.info(
            "This session has not trained a model yet. Open **Train a model** in the sidebar, "
            "pick the settings and press Train: the curves and an epoch scrubber appear here. "
            "The confusion matrix and the filters below are already those of the model in use: "
            f"{whose if info.is_default else 'yours'}."
        )
        return
    st.markdown(view.heading)
    if view.replaced:
        st.caption("The model in use now is not this run's model (it was reset or replaced).")
    figure = figures.training_curves(
        view.rows, view.previous, live=view.live, lr_marks=view.lr_marks
    )
    alt = (
        f"Training curves of {len(view.rows)} recorded points: loss and accuracy against "
        "training steps" + (", with the previous run for comparison" if view.previous else "")
    )
    st.plotly_chart(figure, key="train_curves", alt=alt)


def _epoch_slider(view: tv.RunView) -> int:
    """The epoch scrubber over the recorded snapshots; starts at the last epoch of a new run."""
    epochs = view.snapshots.epochs
    if st.session_state.get(state.TRAIN_EPOCH_RUN) != view.key or (
        st.session_state.get("train_epoch") not in epochs
    ):
        st.session_state[state.TRAIN_EPOCH_RUN] = view.key
        st.session_state["train_epoch"] = epochs[-1]
    return st.select_slider(
        "Epoch (0 = the random weights before training)", epochs, key="train_epoch"
    )


def scrubber(view: tv.RunView | None) -> None:
    """The current input's prediction, conv1's filters and feature maps after a chosen epoch."""
    if view is None:
        return
    st.subheader("Scrub through training")
    log = view.snapshots
    if log.too_large or len(log.epochs) < 2:
        st.info("This model is too large to keep a copy of its weights after every epoch.")
        return
    epoch = _epoch_slider(view)
    st.caption(
        f"Weights kept after epochs {', '.join(map(str, log.epochs))} "
        f"({log.nbytes / 1e6:.2f} MB; at most {log.max_count} copies and "
        f"{log.max_bytes / 1e6:g} MB, thinned evenly for longer runs)."
    )
    image = state.current_input()
    if image is None:
        st.info("Draw a digit or open an example below to see its prediction change with training.")
        return
    _snapshot(view, epoch, image)


def _snapshot(view: tv.RunView, epoch: int, image) -> None:
    """The prediction for ``image`` by the weights after ``epoch``; conv1's filters and maps."""
    trace, weights = tv.snapshot_trace(view, epoch, image)
    names, k = view.class_names, trace.prediction
    when = "With its random initial weights" if epoch == 0 else f"After epoch {epoch}"
    st.markdown(
        f"{when}, the model predicts **{names[k]}** for the current input "
        f"({state.input_source()}) with probability **{trace.probabilities[k]:.1%}**."
    )
    st.plotly_chart(
        charts.probability_bars(trace.probabilities, names),
        key="train_snapshot_probs",
        alt=charts.probability_alt(trace.probabilities, names),
    )
    # Small grids and maps as HTML (numbers in coloured cells, maps as images with alt text):
    # two Plotly figures of 8 heatmaps each were much of the page's drawing time.
    left, right = st.columns(2)
    left.markdown(f"conv1 filters at epoch {epoch} (shape {layout.shape_text(weights.shape)})")
    with left:
        filter_grids(weights[:, 0], f"epoch {epoch}, filter")
        layout.numbers_table(
            weights[:, 0], "train_snapshot_filters", "the conv1 filters",
            open_key="train_snapshot_filters_table",
        )  # fmt: skip
    maps = trace.stage("conv1").output  # (C_out, H, W)
    right.markdown(f"conv1 feature maps of the input (shape {layout.shape_text(maps.shape)})")
    with right:
        ranges = theme.map_ranges(maps, "per layer")
        alt = f"conv1 after epoch {epoch}, for {state.input_source()}"
        grids.show_html(grids.html_maps(maps, _titles("map", len(maps)), ranges, -1, alt))
        st.caption(layout.range_note(maps, "per layer", None))
        layout.numbers_table(
            maps, "train_snapshot_maps", "the conv1 feature maps",
            open_key="train_snapshot_maps_table",
        )  # fmt: skip


def filter_grids(filters, title: str) -> None:
    """(C, kH, kW) filters as small grids of their numbers, one colour range for all of them."""
    rng = theme.value_range(filters)
    grids.show_html(
        grids.html_grid_row(
            grids.html_grid(f, f"{title} {k}", rng, digits=2) for k, f in enumerate(filters)
        )
    )


def _titles(word: str, n: int) -> list[str]:
    return [f"{word} {c}" for c in range(n)]


def _clicked_cell(point: dict, names) -> tuple[int, int] | None:
    """(true, predicted) of a selected marker: its customdata [t, p] (a browser sends it as
    {"0": t, "1": p}), else its y / x class names; None if neither names a cell."""
    data = point.get("customdata")
    if isinstance(data, dict):
        data = [data.get("0"), data.get("1")]
    if isinstance(data, list) and len(data) == 2 and all(type(v) is int for v in data):
        cell = (data[0], data[1])
    elif str(point.get("y")) in names and str(point.get("x")) in names:
        cell = (names.index(str(point["y"])), names.index(str(point["x"])))
    else:
        return None
    return cell if all(0 <= v < len(names) for v in cell) else None


def _apply_selection(event, names) -> None:
    """A newly clicked confusion-matrix cell sets the true / predicted pickers."""
    points = (event or {}).get("selection", {}).get("points", [])  # PlotlyState is a dict
    cell = _clicked_cell(points[0], [str(n) for n in names]) if points else None
    if cell is not None and st.session_state.get(state.TRAIN_CELL_SEEN) != cell:
        st.session_state[state.TRAIN_CELL_SEEN] = cell
        st.session_state["train_true"], st.session_state["train_pred"] = cell


def _cell_picker(confusion, names) -> tuple[int, int]:
    """True / predicted class selectboxes; they start on the most frequent mistake."""
    count = len(names)
    if st.session_state.get("train_true") not in range(count):
        st.session_state["train_true"], st.session_state["train_pred"] = tv.biggest_mistake(
            confusion
        )
    cols = st.columns(2)
    t = cols[0].selectbox(
        "True class", range(count), format_func=names.__getitem__, key="train_true"
    )
    p = cols[1].selectbox(
        "Predicted as", range(count), format_func=names.__getitem__, key="train_pred"
    )
    return t, p


def confusion(info) -> tv.HeldOut:
    """The confusion matrix of the current model; click a cell (or pick it) to list its digits."""
    held = tv.held_out()
    ev, names = held.evaluation, info.class_names
    st.subheader(f"Confusion matrix on {held.label} ({int(ev.confusion.sum()):,} images)")
    st.markdown(
        f"The model in use now gets **{ev.accuracy:.1%}** of them right (held-out loss "
        f"{ev.loss:.3f}). Rows are the true classes, columns the predictions: the diagonal is "
        "right, everything else a mistake. Click a cell, or pick it below, to see its digits."
    )
    event = st.plotly_chart(
        charts.confusion_selectable(ev.confusion, names),
        key="train_confusion",
        on_select="rerun",
        selection_mode="points",
        alt=f"Confusion matrix of {len(names)} classes, true classes in rows, predictions in "
        "columns, the number of images in each cell; the same numbers are in the table below it",
    )
    layout.numbers_table(
        ev.confusion, "train_confusion", "the confusion matrix", open_key="train_confusion_table"
    )
    _apply_selection(event, names)
    t, p = _cell_picker(ev.confusion, names)
    examples(held, t, p, names)
    return held


def examples(held: tv.HeldOut, t: int, p: int, names) -> None:
    """Thumbnails of the held-out digits of class t predicted as p, each with an Open button."""
    found = tv.cell_examples(held, t, p)
    count = int(held.evaluation.confusion[t, p])
    kind = "correctly recognised" if t == p else "mistaken"
    st.markdown(
        f"**{count}** held-out image(s) of class **{names[t]}** predicted as **{names[p]}** "
        f"({kind}){f'; the {len(found)} most confident shown' if count > len(found) else ''}."
    )
    opened = st.session_state.pop(state.TRAIN_OPENED, None)
    if opened:  # said here, where the learner pressed Open, not at the top of the page
        st.success(opened, icon=":material/check_circle:")
        links = st.columns(3)
        links[0].page_link(pages.HOME.file, label="See its prediction")
        links[1].page_link(pages.BY_SLUG["convolution"].file, label="Follow it through the stages")
    probs = held.evaluation.probabilities
    for start in range(0, len(found), EXAMPLES_PER_ROW):
        row = found[start : start + EXAMPLES_PER_ROW]
        for col, i in zip(st.columns(EXAMPLES_PER_ROW), row, strict=False):
            alt = f"Held-out image #{i}: a {names[t]}, predicted {names[p]}"
            col.image(images.grayscale(tv.held_out_image(held, i), 3), alt=alt)
            col.caption(f"#{i} · p({names[p]}) {probs[i, p]:.1%} · p({names[t]}) {probs[i, t]:.1%}")
            if col.button("Open", key=f"train_open_{i}", help="Make it the current input"):
                _open(held, int(i), names)


def _open(held: tv.HeldOut, i: int, names) -> None:
    """Make held-out example i the current input of every page."""
    label, predicted = held.data.labels[i], held.evaluation.predictions[i]
    where = "held-out digit" if held.dataset_name == "digits" else f"{held.dataset_name} test image"
    state.set_input(
        tv.held_out_image(held, i),
        f"{where} #{i} (label {names[label]}, predicted {names[predicted]})",
    )
    st.session_state[state.TRAIN_OPENED] = (
        f"{where.capitalize()} #{i} is now the current input: open the stage pages "
        "(Convolution, ..., Dense & softmax) to see how the model reached its answer."
    )
    st.rerun()


def per_class(held: tv.HeldOut, names) -> None:
    st.subheader("Accuracy per class")
    rows = tv.per_class_rows(held.evaluation.confusion, names)
    for row in rows:
        row["accuracy"] = f"{row['accuracy']:.1%}"
    st.dataframe(rows, hide_index=True, key="train_per_class")


def filters(info) -> None:
    """Every conv layer's filters; for layers with several input channels, a chosen one or the
    mean over them."""
    st.subheader("Learned filters of every conv layer")
    config = info.model.config
    c_in = config.in_channels
    for b, (f, k, _, _) in enumerate(config.blocks(), start=1):
        layer = f"conv{b}"
        st.markdown(f"**{layer}**: {f} filters of {c_in} x {k} x {k} weights")
        channel = None
        if c_in > 1:
            choice = st.selectbox(
                f"{layer}: input channel shown",
                ["mean over input channels", *range(c_in)],
                key=f"train_in_channel_{b}",
                help="Each filter has one k x k slice per input channel (per map of the layer "
                "before). Show one slice, or the mean of all of them.",
            )
            channel = None if isinstance(choice, str) else int(choice)
            st.caption(
                "Mean over the input channels of each filter."
                if channel is None
                else f"The slice of each filter that is applied to input channel {channel}."
            )
        maps = tv.conv_filters(info.model, layer, channel)  # (C_out, kH, kW)
        filter_grids(maps, f"conv{b} filter")
        layout.numbers_table(
            maps, f"train_filters_{b}", f"the conv{b} filters", open_key=f"train_filters_{b}_table"
        )
        c_in = f


st.title("Training")
tour.show("training")
st.markdown(layout.prose("training"))
model_info = state.current_model()
job = st.session_state.get(state.TRAINING)
shown_run = tv.run_view(job, model_info)
curves(shown_run, model_info)
if job is not None:
    step_view.step_section(job.last_step, job.class_names)
scrubber(shown_run)
if model_info.live:
    st.caption(
        "While the run is under way, the confusion matrix and the accuracy per class below are "
        "those of the model in use before it (measuring 1,000 or more images every second would "
        "slow the run down); they change when it ends. The filters at the bottom are live."
    )
adopted = state.current_model(live=False)
held_out = confusion(adopted)
per_class(held_out, adopted.class_names)
filters(model_info)
