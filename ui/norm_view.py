"""The Activation page's batch-normalisation section: a norm stage (between a conv and its
activation) with the chosen channel's numbers at inference, and what the same stage does with a
training batch. The numbers come from cnn_core.norm; this module only draws them."""

from __future__ import annotations

import streamlit as st

from cnn_core import norm

from . import figures, grids, layout, samples, state, theme

BATCH = 16  # held-out images that make the training batch of the demonstration


def section(trace, row: int, col: int) -> None:
    """The section: a caption when the model has no norm stage, else pickers and both parts.
    row, col: the cell picked on the page (clamped to the norm map)."""
    st.subheader("Batch normalisation")
    stages = trace.by_kind("norm")
    if not stages:
        st.caption(
            "This model has no batch normalisation. Tick **Batch norm** under Architecture in "
            "the sidebar (or pick the Fashion-MNIST preset) and train: each conv is then "
            "followed by a norm stage, explained here with its numbers."
        )
        return
    stage, channel = layout.layer_and_channel(
        stages, "norm_layer", "norm_channel", ("Norm stage", "Channel"), st.columns(2)
    )
    step = norm.norm_step(trace, stage.name, channel)
    h, w = step.before.shape
    row, col = min(row, h - 1), min(col, w - 1)
    _inference(step, stage.shape, row, col)
    _training(step, row, col)


def _inference(step: norm.NormStep, shape, row: int, col: int) -> None:
    """The formula with this channel's running statistics, scale and shift, one cell's numbers,
    and the map before and after."""
    c = shape[0]
    st.markdown(
        f"`{step.stage}` receives `{layout.shape_text(shape)}` and returns the same shape · "
        f"**{2 * c} parameters** (a scale and a shift per channel, learned) plus {2 * c} "
        f"running statistics (a mean and a variance per channel, not learned: kept during "
        f"training, updated {step.num_batches_tracked:,} times so far)."
    )
    st.code(
        f"norm = nn.BatchNorm2d({c})  # model.eval(): running statistics, as here\n"
        f"x = norm(x)  # model.train(): the batch's own statistics, see below",
        language="python",
    )
    st.latex(r"y = \frac{x - \mu_{\text{running}}}{\sqrt{\sigma^2_{\text{running}} + \epsilon}}"
             r"\,\gamma + \beta = x \cdot \text{scale} + \text{shift}")  # fmt: skip
    x, y = float(step.before[row, col]), float(step.after[row, col])
    st.latex(
        rf"y_{{{row},{col}}} = \frac{{{x:.4f} - ({step.running_mean:.4f})}}"
        rf"{{\sqrt{{{step.running_var:.4f} + 10^{{-5}}}}}} \cdot {step.weight:.4f} "
        rf"+ ({step.bias:.4f}) = {x:.4f} \cdot {step.scale:.4f} + ({step.shift:.4f}) = {y:.4f}"
    )
    st.markdown(
        f"Channel {step.channel}, cell ({row}, {col}): before **{x:.5f}**, after **{y:.5f}** "
        f"(PyTorch). Recomputed here with NumPy, the largest |difference| over the map is "
        f"{step.difference:.1e}."
    )
    _maps(step, row, col)


def _maps(step: norm.NormStep, row: int, col: int) -> None:
    """The channel's map before and after, side by side while they fit."""
    px = 40 if step.before.shape[0] <= 14 else 12
    box = [figures.Box(row, col, row, col)]
    where = grids.grid_columns(
        [figures.grid_width_px(v, cell_px=px, show_scale=True) for v in (step.before, step.after)]
    )
    for place, values, title, key in (
        (where[0], step.before, f"before (conv output, channel {step.channel})", "norm_before"),
        (where[1], step.after, f"after {step.stage}", "norm_after"),
    ):
        lo, hi = theme.value_range(values)
        fig = figures.annotated_grid(
            values, title=title, cell_px=px, zrange=(lo, hi),
            colorscale=theme.colorscale_for(values), show_scale=True, boxes=box,
        )  # fmt: skip
        alt = layout.grid_alt(title, values, f"the chosen cell ({row}, {col}) is outlined")
        layout.chart(place, fig, key, alt, values, title)


def _batch_traces(count: int = BATCH) -> list:
    """Traces of the first ``count`` held-out images of the model's data set (bundled digits
    when it has none here), by the model in use."""
    info = state.current_model()
    data = samples.samples(samples.subject_of(info.class_names)) or state.bundled_digits().test
    return [info.model.trace(image) for image in data.as_float()[:count]]


def _training(step: norm.NormStep, row: int, col: int) -> None:
    """One training step of this stage on a batch: the batch's statistics, the first image's
    cell normalised with them, and the running statistics' update, next to PyTorch's."""
    st.markdown(f"**During training** (a batch of {BATCH} held-out images; nothing is changed)")
    stats = norm.batch_statistics(_batch_traces(), step.stage)
    c, n, m = step.channel, stats.count, step.momentum
    mean, var = float(stats.mean[c]), float(stats.var[c])
    st.markdown(
        f"In train mode the stage ignores its running statistics and normalises channel {c} "
        f"with the batch's own: the mean **{mean:.4f}** and the variance **{var:.4f}** of "
        f"{BATCH} images x {n // BATCH} positions = n = {n:,} values. The first image's cell "
        f"({row}, {col}) becomes **{float(stats.normalized[c, row, col]):.4f}**."
    )
    st.latex(
        rf"\mu_{{\text{{running}}}} \leftarrow {1 - m:g} \cdot {step.running_mean:.4f} + {m:g} "
        rf"\cdot {mean:.4f} = {stats.running_mean[c]:.4f}"
    )
    st.latex(
        rf"\sigma^2_{{\text{{running}}}} \leftarrow {1 - m:g} \cdot {step.running_var:.4f} + "
        rf"{m:g} \cdot {var:.4f} \cdot \tfrac{{{n}}}{{{n - 1}}} = {stats.running_var[c]:.4f}"
    )
    st.caption(
        f"The running variance keeps the unbiased estimate (n / (n - 1)). PyTorch's "
        f"F.batch_norm(training=True) on the same batch: largest |difference| "
        f"{stats.torch_difference:.1e}. At inference every input is normalised the same way, "
        f"with the running statistics, whatever else is in the batch."
    )
