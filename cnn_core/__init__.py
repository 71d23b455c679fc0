"""ConvScope's numeric core: NumPy teaching ops, the PyTorch model, traces and explanations.

Never imports streamlit or plotly (a test checks it).
"""

from .model import CNN, ModelConfig
from .trace import Stage, Trace

__all__ = ["CNN", "ModelConfig", "Stage", "Trace"]
