"""Activation functions: the NumPy ops and the one table of every activation the app offers.

``ACTIVATIONS`` maps a name to its row (label, torch.nn class, NumPy op, formula, the LaTeX of one
cell, the PyTorch line); the model, the model card, the sidebar, the Activation page and the share
links read it. Adding an activation: its op here and a row in the table. cnn_core.ops re-exports
the ops (``ops.relu`` ...), named like torch.nn.functional.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

import numpy as np


def relu(x) -> np.ndarray:
    """max(0, x), element-wise."""
    return np.maximum(np.asarray(x), 0)


def leaky_relu(x, negative_slope: float = 0.01) -> np.ndarray:
    """x where x >= 0, negative_slope * x elsewhere."""
    if not isinstance(negative_slope, Real) or not np.isfinite(negative_slope):
        raise ValueError(f"negative_slope must be a finite number, got {negative_slope!r}")
    x = np.asarray(x)
    return np.where(x >= 0, x, x * negative_slope)


def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    x = np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32))
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x) -> np.ndarray:
    """(exp(x) - exp(-x)) / (exp(x) + exp(-x))."""
    return np.tanh(np.asarray(x))


@dataclass(frozen=True)
class Activation:
    """One row of ACTIVATIONS: what the model, the pages and the share links know of a function.

    The LaTeX ``cell`` templates show one cell with its numbers substituted; their fields are
    {where} (the cell's name), {x} and {neg_x} (the input and its negative, 4 decimals), {y} (the
    output, 4 decimals) and {a} (the negative slope)."""

    name: str  # ModelConfig.activation, widget value and link value ("leaky_relu")
    label: str  # in words on the pages ("Leaky ReLU")
    torch_module: str  # the class in torch.nn ("LeakyReLU"); also the model card's word for it
    op: Callable[..., np.ndarray]  # the NumPy op: op(x), or op(x, negative_slope) if uses_slope
    formula: str  # LaTeX definition
    cell: str  # LaTeX of one cell, x >= 0 (or any x when cell_negative is empty)
    cell_negative: str = ""  # LaTeX of one cell, x < 0, when it differs
    uses_slope: bool = False  # takes ModelConfig.negative_slope (torch: negative_slope=)

    def __call__(self, x, negative_slope: float = 0.01) -> np.ndarray:
        return self.op(x, negative_slope) if self.uses_slope else self.op(x)

    def module_text(self, negative_slope: float = 0.01) -> str:
        """The PyTorch module, e.g. 'nn.LeakyReLU(negative_slope=0.01)'."""
        args = f"negative_slope={negative_slope:g}" if self.uses_slope else ""
        return f"nn.{self.torch_module}({args})"

    def cell_formula(self, x: float, y: float, negative_slope: float, where: str) -> str:
        """The function applied to one cell, with its numbers substituted (LaTeX)."""
        template = self.cell_negative if x < 0 and self.cell_negative else self.cell
        return template.format(
            where=where, x=f"{x:.4f}", neg_x=f"{-x:.4f}", y=f"{y:.4f}", a=f"{negative_slope:g}"
        )


# Every activation the app offers, in menu order. Adding one: its NumPy op above, a row here.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "relu", "ReLU", "ReLU", relu, r"\mathrm{ReLU}(x) = \max(0, x)",
            r"\mathrm{{ReLU}}({where}) = \max(0,\; {x}) = {y}",
        ),
        Activation(
            "leaky_relu", "Leaky ReLU", "LeakyReLU", leaky_relu,
            r"\mathrm{LeakyReLU}(x) = \begin{cases} x & x \ge 0 \\ a\,x & x < 0 \end{cases}",
            r"\mathrm{{LeakyReLU}}({where}) \overset{{x \ge 0}}{{=}} {x} = {y}",
            r"\mathrm{{LeakyReLU}}({where}) \overset{{x < 0}}{{=}} {a} \times ({x}) = {y}",
            uses_slope=True,
        ),
        Activation(
            "sigmoid", "Sigmoid", "Sigmoid", sigmoid, r"\sigma(x) = \frac{1}{1 + e^{-x}}",
            r"\sigma({where}) = \frac{{1}}{{1 + e^{{{neg_x}}}}} = {y}",
        ),
        Activation(
            "tanh", "Tanh", "Tanh", tanh, r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
            r"\tanh({where}) = \frac{{e^{{{x}}} - e^{{{neg_x}}}}}"
            r"{{e^{{{x}}} + e^{{{neg_x}}}}} = {y}",
        ),
    )
}  # fmt: skip


def activation_named(name: str) -> Activation:
    """The row of ACTIVATIONS called name; ValueError naming the choices otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def activation(name: str, x, negative_slope: float = 0.01) -> np.ndarray:
    """Apply the activation called name (one of ACTIVATIONS)."""
    return activation_named(name)(x, negative_slope)
