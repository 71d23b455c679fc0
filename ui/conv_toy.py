"""Convolution page, tab "Toy playground": kernel size, stride, padding and dilation on a 7x7
grid of 0s and 1s, one output cell worked out by hand."""

import streamlit as st

from cnn_core import conv_lab
from ui import figures, layout
from ui.conv_widgets import PADDING_FRAME, position, size_latex
from ui.toy import grid_editor, set_grid, toy_image


def _reset_toy_kernel() -> None:
    set_grid("conv_toy_kernel", conv_lab.toy_kernel(int(st.session_state["conv_toy_k"])))


def _toy_settings() -> tuple[int, int, int, int]:
    """Kernel size, stride, padding and dilation (each clamped to a small range)."""
    cols = st.columns(4)
    specs = [  # bounds and defaults in ui/pages.py
        ("Kernel size", "conv_toy_k", _reset_toy_kernel),
        ("Stride", "conv_toy_stride", None),
        ("Padding", "conv_toy_padding", None),
        ("Dilation", "conv_toy_dilation", None),
    ]
    values = []
    for col, (label, key, callback) in zip(cols, specs, strict=True):
        n = layout.keep(key)
        values.append(int(col.number_input(label, n.lo, n.hi, key=key, on_change=callback)))
    return tuple(values)


def _toy_result(pg: conv_lab.Playground) -> None:
    """The formula, the padded input with the chosen window, the output, one cell by hand."""
    st.latex(size_latex(pg.rows, "H", "H"))
    if pg.cols.size != pg.rows.size or pg.cols.kernel_size != pg.rows.kernel_size:
        st.latex(size_latex(pg.cols, "W", "W"))
    h, w = pg.output.shape
    st.markdown(
        f"The output is **{h}x{w}** (input {pg.image.shape[0]}x{pg.image.shape[1]}, kernel "
        f"{pg.kernel.shape[0]}x{pg.kernel.shape[1]}, stride {pg.stride}, padding {pg.padding}, "
        f"dilation {pg.dilation}) · {pg.kernel.size} weights, no bias"
    )
    st.code(
        f"F.conv2d(x, w, stride={pg.stride}, padding={pg.padding}, dilation={pg.dilation})"
        f"  # x {layout.shape_text((1, 1, *pg.image.shape))} -> "
        f"{layout.shape_text((1, 1, h, w))}",
        language="python",
    )
    for s, axis in ((pg.rows, "row"), (pg.cols, "column")):
        if s.leftover:
            st.warning(
                f"Stride {s.stride} does not fit evenly along the {axis}s: {s.numerator} "
                f"(= {s.size} + 2x{s.padding} - {s.span}) is not a multiple of {s.stride}, so "
                f"the last {s.leftover} {axis}(s) of the padded input are never under the "
                "kernel. PyTorch rounds down and drops them."
            )
    cols = st.columns(2)
    i = position("Toy output row", "conv_toy_row", h, 0, cols[0])
    j = position("Toy output column", "conv_toy_col", w, 0, cols[1])
    _toy_step(pg, i, j)


def _digits(values) -> int:
    """No decimals for grids of whole numbers (the 0/1 toy), two otherwise."""
    return 0 if all(float(v).is_integer() for v in values.ravel()) else 2


def _toy_step(pg: conv_lab.Playground, i: int, j: int) -> None:
    """The padded toy with the window of output cell (i, j), the products and the sum."""
    step, p = pg.step(i, j), pg.padding
    h, w = pg.image.shape
    frame = figures.Box(p, p, p + h - 1, p + w - 1, PADDING_FRAME, 2)
    top, left, bottom, right = step.window
    marks = [(int(r) + p, int(c) + p) for r in step.rows for c in step.cols]
    cols = st.columns([3, 2, 2])
    boxes = ([frame] if p else []) + [figures.Box(top + p, left + p, bottom + p, right + p)]
    window = f"the window of output cell ({i}, {j}), padded rows {top + p}-{bottom + p} and "
    window += f"columns {left + p}-{right + p}, is outlined and its cells marked with dots"
    layout.chart(
        cols[0], figures.annotated_grid(pg.padded, "padded input", marks=marks, boxes=boxes,
                                        digits=_digits(pg.padded), cell_px=26),
        "conv_toy_padded", layout.grid_alt(f"Toy input padded by {p}", pg.padded, window),
        pg.padded, "the padded toy input",
    )  # fmt: skip
    layout.chart(
        cols[1],
        figures.annotated_grid(step.products[0], "patch x kernel", digits=_digits(step.products)),
        "conv_toy_products",
        layout.grid_alt(f"Patch x kernel for output cell ({i}, {j})", step.products[0],
                        f"they add up to {step.value:g}"),
        step.products[0], "patch x kernel",
    )  # fmt: skip
    layout.chart(
        cols[2], figures.annotated_grid(
            pg.output, "output", boxes=[figures.Box(i, j, i, j)], digits=_digits(pg.output)
        ),
        "conv_toy_output",
        layout.grid_alt("Toy output", pg.output, f"cell ({i}, {j}) = {step.value:g} is outlined"),
        pg.output, "the toy output",
    )  # fmt: skip
    pairs = zip(step.patch[0].ravel(), step.kernel[0].ravel(), strict=True)
    terms = " + ".join(f"{a:g}\\cdot{b:g}" for a, b in pairs)
    st.latex(rf"\text{{out}}[{i},{j}] = {terms} = {step.value:g}")
    if p:
        st.caption("Cyan frame: the toy image; cells outside it are the zero padding.")


def toy_section() -> None:
    k, stride, padding, dilation = _toy_settings()
    cols = st.columns(2)
    image = toy_image("conv_toy_image", container=cols[0])
    kernel = grid_editor(
        "Toy kernel", "conv_toy_kernel", conv_lab.toy_kernel(k), name="toy kernel",
        max_size=9, shape=(k, k), container=cols[1],
    )  # fmt: skip
    if image is None or kernel is None:
        return
    try:
        pg = conv_lab.playground(image, kernel, stride, padding, dilation)
    except ValueError as err:
        st.error(f"This choice does not work: {err}.")
        return
    _toy_result(pg)
