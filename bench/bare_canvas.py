"""The bare canvas page that bench/draw_latency.py compares the app against.

The same canvas as the app (streamlit-drawable-canvas 0.13.0, 280x280, freedraw, image data
returned to Python) and nothing else: each stroke reruns this script, which echoes the image
size and the stroke count in a `.cs-prediction` element (absent while the canvas is empty, as in
the app). torch is imported so the server process carries the same heavy modules as the app.
Run it like the app: `streamlit run bench/bare_canvas.py` from the repository root.
"""

import streamlit as st
import torch  # noqa: F401  (imported only to make the process as heavy as the app's)
from streamlit_drawable_canvas import st_canvas

result = st_canvas(
    stroke_width=20,
    stroke_color="#FFFFFF",
    background_color="#000000",
    height=280,
    width=280,
    drawing_mode="freedraw",
    key="canvas",
    return_image_data=True,
    update_streamlit=True,
)
strokes = len((result.json_data or {}).get("objects") or [])
if strokes and result.image_data is not None:
    h, w = result.image_data.shape[:2]
    st.markdown(
        f"<div class='cs-prediction'>{w}x{h}, {strokes} strokes</div>", unsafe_allow_html=True
    )
