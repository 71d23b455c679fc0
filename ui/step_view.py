"""The Training page's "One step of learning": the numbers of the last Step one batch.

While a run is paused, the sidebar's Step one batch takes exactly one optimizer step and the job
publishes that step's StepEvent (cnn_core.train): the batch, its loss before and after, and for
every parameter the weights before, the gradient, the optimizer's update and the weights after.
This section lays them out for one conv1 filter and for the dense weights of one class.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from . import figures, images, layout

CONV = "stages.conv1"  # the first conv layer's parameters
DENSE = "stages.dense"  # the output layer's parameters: weight (K, F), bias (K,)
PARTS = (  # (StepEvent field, column title)
    ("weights_before", "weights before"),
    ("gradients", "gradient dL/dw"),
    ("update", "update applied"),
    ("weights_after", "weights after"),
)
THUMBS_PER_ROW = 16


def update_rule(step) -> str:
    """The optimizer's update rule in words and symbols, with this step's learning rate."""
    lr = f"{step.learning_rate:.4g}"
    if step.optimizer == "adam":
        return (
            f"Adam: update = -{lr} x m̂ / (√v̂ + 1e-8), where m̂ and v̂ are the bias-corrected "
            "running means of the gradient and of its square."
        )
    return (
        f"SGD with momentum: update = -{lr} x velocity, where velocity = momentum x previous "
        "velocity + gradient."
    )


def _digits(values) -> int:
    """Decimals that show the two leading digits of the largest value (at least 3): gradients
    and updates are often a thousandth of the weights."""
    largest = float(np.abs(values).max())
    return 3 if largest == 0 else int(np.clip(np.ceil(-np.log10(largest)) + 1, 3, 6))


def _batch(step, class_names) -> None:
    """The batch as thumbnails, with its labels in order."""
    count = len(step.labels)
    shown = step.images[: 2 * THUMBS_PER_ROW]  # (n, H, W)
    rows = [shown[i : i + THUMBS_PER_ROW] for i in range(0, len(shown), THUMBS_PER_ROW)]
    for k, row in enumerate(rows):
        tiles = np.concatenate([np.pad(img, ((0, 0), (0, 1)), constant_values=1) for img in row], 1)
        first = k * THUMBS_PER_ROW
        names = ", ".join(class_names[int(c)] for c in step.labels[first : first + len(row)])
        text = f"Images {first + 1}-{first + len(row)}: labels {names}"
        st.image(images.grayscale(tiles, 3), caption=text, alt=f"Training batch, {text}")
    st.caption(
        f"The first {len(shown)} of the batch's {count} images, after augmentation, as the "
        "model saw them; each row's labels are under it, left to right."
    )


def _filter_grids(step, index: int) -> None:
    """Four small grids side by side: one conv1 filter before, gradient, update, after."""
    weight = f"{CONV}.weight"
    cols = st.columns(4)
    for col, (part, title) in zip(cols, PARTS, strict=True):
        values = getattr(step, part)[weight][index, 0]  # (kH, kW) of input channel 0
        col.markdown(f"**{title}**")
        alt = layout.grid_alt(f"{CONV} filter {index}, input channel 0: {title}", values)
        figure = figures.annotated_grid(values, digits=_digits(values), cell_px=64)
        layout.chart(col, figure, f"step_filter_{part}", alt, values, title.lower())
    bias = f"{CONV}.bias"
    st.caption(
        f"Bias of filter {index}: {step.weights_before[bias][index]:.5f} + "
        f"({step.update[bias][index]:.2e}) = {step.weights_after[bias][index]:.5f}; its "
        f"gradient {step.gradients[bias][index]:.2e}."
    )


def _dense_strips(step, k: int, name: str) -> None:
    """The class's row of dense weights: before, gradient, update, after, as strips."""
    weight = f"{DENSE}.weight"
    for part, title in PARTS:
        row = getattr(step, part)[weight][k]  # (F,)
        what = f"{title} ({len(row)} weights of class {name})"
        alt = layout.grid_alt(f"A strip of the {DENSE} weights of class {name}: {title}", row)
        figure = figures.vector_strip(row, title=what)
        layout.chart(st, figure, f"step_dense_{part}", alt, row, what)
    update = step.update[weight][k]
    top = np.argsort(-np.abs(update), kind="stable")[:8]
    st.dataframe(
        [
            {"weight index": int(i)} | {t: float(getattr(step, p)[weight][k, i]) for p, t in PARTS}
            for i in top
        ],  # fmt: skip
        hide_index=True,
        key="step_dense_table",
    )
    st.caption(f"The {len(top)} weights of class {name} that this step changed most.")


def step_section(step, class_names) -> None:
    """The whole section: the last recorded step of the session's run, or how to get one."""
    st.subheader("One step of learning, in numbers")
    if step is None:
        st.info(
            "Pause a run in the sidebar, then press **Step one batch**: this section shows that "
            "one optimizer step: the batch, its loss before and after, and for a conv1 filter "
            "and for one class's dense weights the weights before, the gradient dL/dw, the "
            "update the optimizer applied and the weights after."
        )
        return
    change = step.loss_after - step.loss_before
    st.markdown(
        f"Epoch {step.epoch}, batch {step.batch}: {len(step.labels)} images. The loss of this "
        f"batch went from **{step.loss_before:.4f}** to **{step.loss_after:.4f}** "
        f"({'down' if change < 0 else 'up'} {abs(change):.4f}) in one step. " + update_rule(step)
    )
    _batch(step, class_names)
    filters = step.weights_before[f"{CONV}.weight"].shape[0]
    index = st.selectbox("conv1 filter", range(filters), key="step_filter")
    _filter_grids(step, index)
    k = st.selectbox(
        "Class (its dense weights)", range(len(class_names)), format_func=class_names.__getitem__,
        key="step_class",
    )  # fmt: skip
    _dense_strips(step, k, class_names[k])
