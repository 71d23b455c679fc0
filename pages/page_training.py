"""Training: how the session's model learned, epoch by epoch."""

import streamlit as st

from ui import figures, layout, state

st.title("Training")
st.markdown(layout.prose("training"))

run = st.session_state.get(state.TRAINING)
info = state.current_model()
if run is None or not run.rows:
    st.info(
        "This session has not trained a model yet. Open **Train a model** in the sidebar, "
        "pick the settings and press Train; the curves and the confusion matrix appear here."
    )
    st.markdown(
        f"The model in use now is {'the default model' if info.is_default else 'yours'}: "
        f"{info.model.config.describe()}."
    )
else:
    past = state.history()
    previous = past[-2] if len(past) >= 2 and past[-1] is run.rows else None
    st.markdown(
        f"Last run: **{run.status}** · {run.request.model_config.describe()} · "
        f"{len(run.rows)} epoch(s)"
    )
    st.plotly_chart(figures.training_curves(run.rows, previous), key="training_curves")
    if run.last_confusion is not None:
        total = int(run.last_confusion.sum())
        st.subheader(f"Confusion matrix on the held-out set ({total:,} images)")
        st.plotly_chart(
            figures.confusion_figure(run.last_confusion, run.class_names), key="training_confusion"
        )
        correct = run.last_confusion.diagonal() / run.last_confusion.sum(axis=1).clip(min=1)
        st.dataframe(
            [{"class": run.class_names[k], "accuracy": f"{a:.1%}"} for k, a in enumerate(correct)],
            hide_index=True,
        )

st.subheader("Learned filters of the first layer")
weights = info.model.layer_weights("conv1")[:, 0]  # (C_out, kH, kW) of the single input channel
st.plotly_chart(
    figures.heatmap_grid(weights, titles=[f"filter {k}" for k in range(len(weights))], cell_px=80),
    key="training_filters",
)
