"""Convolution: one filter sliding over the input, one output cell computed in full."""

import streamlit as st

from cnn_core import explain
from ui import figures, layout, theme

st.title("Convolution")
st.markdown(layout.prose("convolution"))
st.latex(
    r"\text{out}[o,i,j] = b_o + \sum_{c}\sum_{u,v} w[o,c,u,v]\,"
    r"x_{\text{pad}}[c,\; i s + u,\; j s + v]"
)

trace = layout.input_trace()
if trace is not None:
    convs = trace.by_kind("conv")
    cols = st.columns(3)
    name = cols[0].selectbox("Conv layer", [s.name for s in convs], key="conv_layer")
    stage = trace.stage(name)
    p = stage.params
    channel = cols[1].number_input(
        "Output channel (filter)", 0, p["out_channels"] - 1, 0, key="conv_channel"
    )
    c_in, h_in, w_in = trace.input_of(name).shape
    _, h_out, w_out = stage.shape
    st.markdown(
        f"Input `{layout.shape_text((c_in, h_in, w_in))}` → "
        f"output `{layout.shape_text(stage.shape)}`"
        f" · kernel {p['kernel_size']}x{p['kernel_size']}, stride {p['stride']}, padding "
        f"{p['padding']} · {p['num_parameters']:,} parameters "
        f"({p['out_channels']} x {p['in_channels']} x {p['kernel_size']}² weights + "
        f"{p['out_channels']} biases)"
    )
    st.code(
        f"nn.Conv2d({p['in_channels']}, {p['out_channels']}, kernel_size={p['kernel_size']}, "
        f"stride={p['stride']}, padding={p['padding']})",
        language="python",
    )

    row = st.slider("Output row", 0, h_out - 1, h_out // 2, key="conv_row")
    col = st.slider("Output column", 0, w_out - 1, w_out // 2, key="conv_col")
    e = explain.conv_step(trace, name, int(channel), row, col)
    step = e.step
    top, left, bottom, right = step.window

    st.subheader(f"Output cell ({channel}, {row}, {col}) step by step")
    in_maps = trace.input_of(name)
    show_channels = range(min(c_in, 4))
    is_image = trace.names[trace.names.index(name) - 1] == "input"
    in_scale = theme.IMAGE if is_image else theme.colorscale_for(in_maps)
    in_range = (0.0, 1.0) if is_image else theme.value_range(in_maps)
    grid = st.columns(len(show_channels) + 1)
    for k in show_channels:
        grid[k].plotly_chart(
            figures.annotated_grid(
                in_maps[k],
                zrange=in_range,
                colorscale=in_scale,
                title=f"input channel {k}",
                boxes=[figures.Box(top, left, bottom, right)],
                cell_px=12 if h_in > 7 else 26,
            ),
            key=f"conv_in_{k}",
        )
    out_map = stage.output[channel]
    grid[-1].plotly_chart(
        figures.annotated_grid(
            out_map,
            title=f"output channel {channel}",
            boxes=[figures.Box(row, col, row, col)],
            cell_px=12 if h_out > 7 else 26,
        ),
        key="conv_out",
    )
    if c_in > 4:
        st.caption(f"Showing 4 of the {c_in} input channels; every channel is in the sums below.")

    k = min(c_in, 4)
    for c in range(k):
        cells = st.columns(3)
        rng = theme.value_range(step.kernel)
        cells[0].plotly_chart(
            figures.annotated_grid(
                step.patch[c], title=f"patch, channel {c}", zrange=in_range, colorscale=in_scale
            ),
            key=f"conv_patch_{c}",
        )
        cells[1].plotly_chart(
            figures.annotated_grid(step.kernel[c], title=f"weights, channel {c}", zrange=rng),
            key=f"conv_kernel_{c}",
        )
        cells[2].plotly_chart(
            figures.annotated_grid(
                step.products[c], digits=3, title=f"products: sum {step.channel_sums[c]:.4f}"
            ),
            key=f"conv_products_{c}",
        )
    sums = " + ".join(f"{v:.4f}" for v in step.channel_sums[:8])
    more = " + …" if c_in > 8 else ""
    st.latex(
        rf"\underbrace{{{sums}{more}}}_{{\text{{channel sums}}}} + "
        rf"\underbrace{{{step.bias:.4f}}}_{{\text{{bias}}}} = {step.value:.6f}"
    )
    st.markdown(
        f"PyTorch computed **{e.torch_value:.6f}** for this cell · |difference| = "
        f"**{e.difference:.2e}** (float32 rounding)"
    )

    st.subheader("Every output channel of this layer")
    mode = layout.color_mode("conv_color_mode")
    layout.stage_maps(stage.output, mode, layout.map_values(trace))
