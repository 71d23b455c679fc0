"""Trace: every stage's output for one input, recorded in one forward pass.

A Trace is plain data (NumPy arrays and numbers), so pages and explanations can read it without
touching the model, and many sessions can hold traces of the same shared model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STAGE_KINDS = ("input", "conv", "norm", "activation", "pool", "flatten", "dense", "softmax")


@dataclass(frozen=True)
class Stage:
    """One named stage of the network and what it produced for the traced input."""

    name: str  # e.g. "conv1", "norm1", "act1", "pool1", "flatten", "dense", "softmax"
    kind: str  # one of STAGE_KINDS
    output: np.ndarray  # the stage's output without the batch axis, e.g. (8, 28, 28) or (10,)
    params: dict = field(default_factory=dict)  # weights and settings (see CNN.trace)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.output.shape)


@dataclass(frozen=True)
class Trace:
    """All stages for one input, in the order the network runs them."""

    stages: list[Stage]
    logits: np.ndarray  # (num_classes,) the dense output before softmax
    probabilities: np.ndarray  # (num_classes,) softmax(logits)

    @property
    def prediction(self) -> int:
        """The class with the highest probability."""
        return int(np.argmax(self.probabilities))

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage(self, name: str) -> Stage:
        """The stage called name; ValueError listing the names if there is none."""
        for s in self.stages:
            if s.name == name:
                return s
        raise ValueError(f"no stage called {name!r}; stages are {', '.join(self.names)}")

    def by_kind(self, kind: str) -> list[Stage]:
        """Every stage of one kind, in order (e.g. all conv stages)."""
        if kind not in STAGE_KINDS:
            raise ValueError(f"unknown stage kind {kind!r}; kinds are {', '.join(STAGE_KINDS)}")
        return [s for s in self.stages if s.kind == kind]

    def previous(self, name: str) -> str:
        """The name of the stage just before the one called name (the one it receives from)."""
        position = self.names.index(self.stage(name).name)
        if position == 0:
            raise ValueError("the input stage has no input of its own")
        return self.names[position - 1]

    def input_of(self, name: str) -> np.ndarray:
        """The output of the stage just before the one called name (what it received)."""
        return self.stage(self.previous(name)).output
