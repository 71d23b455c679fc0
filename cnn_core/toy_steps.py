"""The toy's computations: grids small enough to check by hand through convolution, activation
and a dense layer, with the same result objects as the model's stages (cnn_core.explain), so a page
shows the toy and the model alike. The toy grids themselves are cnn_core.toy; pooling any map,
the toy's too, is explain.pool_map.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .explain import ActivationExplanation, DenseExplanation


def toy_conv_map(image, kernel, bias: float = 0.0) -> np.ndarray:
    """One toy image (H, W) convolved with one kernel (k, k), no padding, stride 1, plus a bias:
    the (H-k+1, W-k+1) map, as PyTorch's F.conv2d(image[None, None], kernel[None, None]) gives."""
    image = np.asarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    out = ops.conv2d(image[None], kernel[None, None], np.array([bias], dtype=np.float32))
    return out[0]  # (H_out, W_out)


def toy_feature_maps(image, kernels) -> np.ndarray:
    """The toy image convolved with each kernel (no padding, stride 1): a (C, H_out, W_out)."""
    return np.stack([toy_conv_map(image, k) for k in kernels])


def activation_map(before, function: str, negative_slope: float = 0.01, layer: str = "toy"):
    """Apply ``function`` to any map (the toy's conv map): an ActivationExplanation without a
    PyTorch value (it is not a stage of the model)."""
    before = np.asarray(before, dtype=np.float64)
    after = ops.activation(function, before, negative_slope)
    return ActivationExplanation(layer, function, before, after, False, None, negative_slope)


def toy_dense_step(x, weight, bias, output_index: int) -> DenseExplanation:
    """Output ``output_index`` of a tiny dense layer typed in by the learner: the NumPy sum of
    contributions, and PyTorch's F.linear value as the check."""
    import torch  # the oracle; cnn_core may use torch

    x = np.asarray(x, dtype=np.float64).ravel()
    weight = np.asarray(weight, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64).ravel()
    ops.linear(x, weight, bias)  # validates the shapes with a sentence
    if not 0 <= output_index < weight.shape[0]:
        raise ValueError(f"output must be between 0 and {weight.shape[0] - 1}, got {output_index}")
    contributions = weight[output_index] * x
    torch_value = torch.nn.functional.linear(
        torch.tensor(x), torch.tensor(weight), torch.tensor(bias)
    )[output_index]
    b = float(bias[output_index])
    return DenseExplanation(
        "toy", output_index, x, weight[output_index], contributions, b,
        float(contributions.sum() + b), float(torch_value), None,
    )  # fmt: skip
