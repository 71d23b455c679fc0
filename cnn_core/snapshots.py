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

A whole run -- its per-epoch rows, its SnapshotLog, its ModelConfig and class names -- is saved as
one safetensors file (``save_history`` / ``load_history``; the default model's own run ships as
assets/default_history.safetensors). Tensors are named "epoch_<e>/<state-dict name>"; the rows,
the configuration and the class names are JSON in the metadata. Loading reads safetensors only
(never a pickle), with checkpoint.py's readers, and refuses anything a SnapshotLog would not hold.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_save

from .checkpoint import (
    DEFAULT_MODEL_PATH,
    _check_not_pickle,
    _check_tensors,
    _read_config,
    _read_header,
    _read_limited,
    _read_tensors,
    _sorted_metadata,
    _write_atomically,
)
from .model import CNN, ModelConfig, empty_on_cpu

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
    model = empty_on_cpu(model)
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


# ----------------------------------------------------------------------------------------------
# A whole run's history in one safetensors file: per-epoch rows, snapshots and the configuration

HISTORY_FORMAT = "convscope-history/1"
DEFAULT_HISTORY_PATH = DEFAULT_MODEL_PATH.with_name("default_history.safetensors")
ROW_KEYS = ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "seconds")
MAX_ROWS = 1_000  # epochs of per-epoch figures in one file (the default run has 60)
_HEADER_BYTES = 1_000_000  # room for the JSON header (tensor names, rows) beside MAX_BYTES of data
_NAME = re.compile(r"epoch_(0|[1-9]\d{0,5})/(.+)")  # "epoch_<e>/<state-dict name>"
_RESERVED = {"format", "model_config", "rows", "snapshot_epochs", "class_names"}  # metadata keys


@dataclass(frozen=True, eq=False)  # eq=False: tensors
class TrainingHistory:
    """One training run as the Training page shows it. Shared read-only: never change it."""

    rows: tuple[dict, ...]  # one dict per epoch 1..E, keys ROW_KEYS (the sidebar's rows)
    snapshots: SnapshotLog  # epoch 0 (initial weights) and after epochs, thinned as recorded
    config: ModelConfig  # the architecture of every snapshot
    class_names: tuple[str, ...]  # config.num_classes names, e.g. "0".."9"
    metadata: dict[str, str] = field(default_factory=dict)  # extras: trained_on, train_config...


def save_history(history: TrainingHistory, path=None, extra_metadata: dict | None = None) -> bytes:
    """The history as safetensors bytes (tensors "epoch_<e>/<name>", rows, configuration and
    class names as JSON metadata); also written atomically to ``path`` if given. The same history
    always gives the same bytes."""
    _check_history(history)
    rows = [{k: int(r[k]) if k == "epoch" else float(r[k]) for k in ROW_KEYS} for r in history.rows]
    metadata = {
        "format": HISTORY_FORMAT,
        "model_config": json.dumps(history.config.to_dict()),
        "rows": json.dumps(rows),
        "snapshot_epochs": json.dumps(history.snapshots.epochs),
        "class_names": json.dumps(list(history.class_names)),
    }
    for key, value in {**history.metadata, **(extra_metadata or {})}.items():
        if key in metadata:
            raise ValueError(f"the metadata key {key!r} is reserved")
        metadata[str(key)] = value if isinstance(value, str) else json.dumps(value)
    tensors = {
        f"epoch_{s.epoch}/{name}": t.detach().cpu().clone()  # own memory: no shared tensors
        for s in history.snapshots.snapshots
        for name, t in s.weights.items()
    }
    data = _sorted_metadata(safetensors_save(tensors, metadata=metadata))
    if path is not None:
        _write_atomically(Path(path), data)
    return data


def load_history(path_or_bytes) -> TrainingHistory:
    """Read a file written by save_history (a path or the bytes). Safetensors only, never a
    pickle; every malformed file -- not a history, bad rows, names, shapes or epochs, more
    snapshots or bytes than a SnapshotLog keeps -- raises ValueError saying what is wrong."""
    try:
        data = _read_limited(path_or_bytes, MAX_BYTES + _HEADER_BYTES)
        _check_not_pickle(data)
        metadata = _read_header(data).get("__metadata__")
        if not isinstance(metadata, dict) or metadata.get("format") != HISTORY_FORMAT:
            raise ValueError(f'its metadata has no "format": "{HISTORY_FORMAT}" entry')
        config = _read_config(metadata)
        rows, names = _read_rows(metadata), _read_class_names(metadata, config)
        log = _read_snapshots(_read_tensors(data), config, _json(metadata, "snapshot_epochs"))
        _check_epochs(rows, log.epochs)
    except ValueError as err:  # CheckpointError is a ValueError
        raise ValueError(f"this is not a valid ConvScope training history: {err}") from None
    extras = {k: v for k, v in metadata.items() if k not in _RESERVED}
    return TrainingHistory(tuple(rows), log, config, names, extras)


def _check_history(history: TrainingHistory) -> None:
    """ValueError unless the history is one a load_history would accept."""
    log = history.snapshots
    if log.config is not None and log.config != history.config:
        raise ValueError("the snapshots are of another architecture than the history's config")
    if len(history.class_names) != history.config.num_classes:
        raise ValueError("a history needs one class name per class of its configuration")
    _check_rows(list(history.rows))
    _check_epochs(list(history.rows), log.epochs)


def _json(metadata: dict, key: str):
    """The JSON value stored under ``key`` (ValueError if absent or not JSON)."""
    if not isinstance(metadata.get(key), str):
        raise ValueError(f'its metadata has no "{key}" string')
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as err:
        raise ValueError(f'its "{key}" metadata is not valid JSON ({err})') from None


def _read_rows(metadata: dict) -> list[dict]:
    rows = _json(metadata, "rows")
    _check_rows(rows)
    return rows


def _check_rows(rows) -> None:
    """A list of at most MAX_ROWS dicts with exactly ROW_KEYS, epochs 1, 2, ..., finite
    numbers, losses and seconds >= 0 and accuracies in [0, 1]."""
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        raise ValueError(f"its rows must be a list of at most {MAX_ROWS} per-epoch entries")
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or set(row) != set(ROW_KEYS):
            raise ValueError(f"row {i} must have exactly the keys {', '.join(ROW_KEYS)}")
        epoch = row["epoch"]
        if not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool) or epoch != i:
            raise ValueError(f"row {i} must be epoch {i}, not {row['epoch']!r}")
        for key in ROW_KEYS[1:]:
            value, top = row[key], 1.0 if "accuracy" in key else math.inf
            number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not number or not 0.0 <= value <= top or math.isinf(value):
                raise ValueError(f"row {i}: {key} must be a finite number in [0, {top:g}]")


def _read_class_names(metadata: dict, config: ModelConfig) -> tuple[str, ...]:
    names = _json(metadata, "class_names")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ValueError("its class_names must be a list of non-empty strings")
    if len(names) != config.num_classes:
        raise ValueError(f"it names {len(names)} classes, its model has {config.num_classes}")
    return tuple(names)


def _read_snapshots(tensors: dict, config: ModelConfig, epochs) -> SnapshotLog:
    """The tensors "epoch_<e>/<name>" as a SnapshotLog, each epoch checked against the model's
    state dict (names, shapes, float32, finite), within the log's MAX_COUNT and MAX_BYTES."""
    log, groups = SnapshotLog(), _group_by_epoch(tensors)
    if epochs != sorted(groups) or len(groups) > log.max_count:
        raise ValueError(
            f"its snapshot_epochs {epochs!r} must list the epochs of its tensors "
            f"({sorted(groups)}), in order, at most {log.max_count} of them"
        )
    with torch.device("meta"):  # shapes only
        expected = CNN(config, seed=None).state_dict()
    for epoch, weights in sorted(groups.items()):
        try:
            _check_tensors(weights, expected)
        except ValueError as err:
            raise ValueError(f"snapshot of epoch {epoch}: {err}") from None
        nbytes = sum(t.numel() * t.element_size() for t in weights.values())
        log.snapshots.append(Snapshot(epoch, weights, nbytes))
    if log.nbytes > log.max_bytes:
        raise ValueError(f"its snapshots hold more than {log.max_bytes / 1e6:g} MB")
    log.config = config if log.snapshots else None
    return log


def _group_by_epoch(tensors: dict[str, torch.Tensor]) -> dict[int, dict[str, torch.Tensor]]:
    """{epoch: {state-dict name: tensor}} from names "epoch_<e>/<name>"."""
    groups: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        match = _NAME.fullmatch(key)
        if match is None:
            raise ValueError(f'its tensor {key[:80]!r} is not named "epoch_<e>/<weight name>"')
        groups.setdefault(int(match[1]), {})[match[2]] = tensor
    return groups


def _check_epochs(rows: list[dict], epochs: list[int]) -> None:
    """Snapshots only of epoch 0 and of epochs that have a row, and of the last one if any."""
    known = {0} | {row["epoch"] for row in rows}
    if not set(epochs) <= known:
        raise ValueError(f"it has snapshots of epochs {epochs}, but rows of epochs 1-{len(rows)}")
    if rows and epochs and epochs[-1] != len(rows):
        raise ValueError(f"its last snapshot (epoch {epochs[-1]}) is not of its last epoch")
