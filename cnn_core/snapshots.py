"""Copies of a model's weights after each epoch, bounded in count and bytes, to scrub through
training: which digit would the model have predicted after epoch e?

    log = SnapshotLog()
    log.record(0, model)                  # the random initial weights, before training
    for event in train(model, split, config):
        if isinstance(event, EpochEvent):
            log.record(event.epoch, model)  # the weights that were just evaluated
    log.model_at(0).trace(image)          # a separate CNN holding the epoch-0 weights

A snapshot is a detached CPU copy of the state dict (float32 tensors), never a view of the live
model, so training on does not change it. Memory is bounded: at most ``max_count`` snapshots and
``max_bytes`` bytes; when a new one does not fit, an older one from the middle is dropped (the
first and the newest are always kept) so that the kept epochs stay roughly evenly spaced.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .model import CNN, ModelConfig

MAX_COUNT = 21  # epoch 0 plus 20 epochs, the sidebar's largest run
MAX_BYTES = 8_000_000  # per log: the default model's snapshot is 36 kB, so 21 of them are 0.8 MB


@dataclass(frozen=True, eq=False)  # eq=False: tensors
class Snapshot:
    """The weights of a model at the end of one epoch (epoch 0: before training)."""

    epoch: int
    weights: dict[str, torch.Tensor]  # name -> detached CPU copy, as in model.state_dict()
    nbytes: int  # bytes of tensor data


def snapshot_weights(model: CNN) -> dict[str, torch.Tensor]:
    """A detached CPU copy of every tensor of the model's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def model_from_weights(config: ModelConfig, weights: dict[str, torch.Tensor]) -> CNN:
    """A new CNN (eval mode) holding a copy of ``weights``; ValueError if they do not fit the
    config (missing, extra or wrongly shaped tensors). The global RNG is not touched."""
    with torch.device("meta"):  # shapes only: no initialisation, no RNG
        model = CNN(config, seed=None)
    model = model.to_empty(device="cpu")
    try:
        model.load_state_dict(weights, strict=True)  # copies into the model's own memory
    except RuntimeError as err:
        raise ValueError(f"these weights do not fit the configuration: {err}") from None
    return model.eval()


class SnapshotLog:
    """Snapshots of one training run, oldest first, within a count and a byte limit."""

    def __init__(self, max_count: int = MAX_COUNT, max_bytes: int = MAX_BYTES):
        if max_count < 2 or max_bytes < 1:
            raise ValueError("a snapshot log keeps at least 2 snapshots and a positive byte limit")
        self.max_count, self.max_bytes = max_count, max_bytes
        self.config: ModelConfig | None = None
        self.snapshots: list[Snapshot] = []
        self.too_large = False  # True when two snapshots of this model exceed max_bytes

    @property
    def epochs(self) -> list[int]:
        return [s.epoch for s in self.snapshots]

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.snapshots)

    def record(self, epoch: int, model: CNN) -> bool:
        """Keep a copy of the model's weights as epoch ``epoch``; False if the model is too
        large to keep snapshots of at all (then the log stays empty)."""
        if self.config is not None and model.config != self.config:
            raise ValueError("a snapshot log holds the snapshots of one architecture only")
        nbytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        if 2 * nbytes > self.max_bytes:  # not even the first and the last would fit
            self.too_large, self.snapshots = True, []
            return False
        self.config = model.config
        self.snapshots = [s for s in self.snapshots if s.epoch != epoch]  # re-recorded epoch
        self.snapshots.append(Snapshot(epoch, snapshot_weights(model), nbytes))
        while len(self.snapshots) > self.max_count or self.nbytes > self.max_bytes:
            del self.snapshots[self._least_useful()]
        return True

    def _least_useful(self) -> int:
        """The middle snapshot whose neighbours are closest together (earliest on a tie)."""
        e = self.epochs
        return min(range(1, len(e) - 1), key=lambda i: (e[i + 1] - e[i - 1], i))

    def model_at(self, epoch: int) -> CNN:
        """A new CNN holding the weights recorded for ``epoch`` (KeyError if there are none)."""
        for s in self.snapshots:
            if s.epoch == epoch:
                return model_from_weights(self.config, s.weights)
        raise KeyError(f"no snapshot of epoch {epoch}; recorded: {self.epochs}")
