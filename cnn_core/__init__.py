"""ConvScope's numeric core: NumPy teaching ops, the PyTorch model, traces and explanations.

Never imports streamlit or plotly (a test checks it).
"""

from .checkpoint import load_default_model
from .model import CNN, ModelConfig
from .preprocess import Preprocessed, preprocess_canvas, preprocess_image
from .trace import Stage, Trace

__all__ = [
    "CNN",
    "ModelConfig",
    "Preprocessed",
    "Stage",
    "Trace",
    "load_default_model",
    "preprocess_canvas",
    "preprocess_image",
]
