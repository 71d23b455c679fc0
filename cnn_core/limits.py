"""Demo limits for a shared server: environment settings, training slots, model-size caps.

One small server (1-2 CPUs, about 1 GB) serves a whole class from one process, so three things
are bounded here, none of them specific to Streamlit:

1. ``load_limits()`` reads the limits from environment variables (defaults in ``DEFAULTS``);
   a value that is not a number, or out of range, falls back to the default with a warning in
   the log. ``limit_train_config()`` applies them to a TrainConfig and says what it changed.
2. ``TrainingSlots``: at most N training runs at once in the process, first come first served.

       with shared_slots().ticket() as ticket:   # joins the queue; leaving the block releases
           while not ticket.wait(0.5):           # True once this run holds a slot
               show(f"you are number {ticket.position} in the queue")  # Stop can cancel here
           ...train...

3. ``check_model_size(config)``: refuses a ModelConfig whose weights could not be saved as a
   checkpoint (cnn_core.checkpoint.MAX_BYTES) or whose activations would not fit in memory, with
   a sentence a learner can act on.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

from .checkpoint import MAX_BYTES
from .model import ModelConfig

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------------------------
# Limits from the environment


@dataclass(frozen=True)
class Limits:
    """The demo limits of this process; every field has the default used without env vars."""

    max_epochs: int = 20  # CONVSCOPE_MAX_EPOCHS: epochs per run (1-100)
    max_train_images: int = 60_000  # CONVSCOPE_MAX_TRAIN_IMAGES: training images per run
    max_train_seconds: float = 600.0  # CONVSCOPE_MAX_TRAIN_SECONDS: training time of one run (a
    # safety net for a shared server, not the length of a lesson; time paused is not counted)
    training_slots: int = 1  # CONVSCOPE_TRAINING_SLOTS: runs at once in the whole process (1-64)
    threads: int = 1  # CONVSCOPE_THREADS: torch intra-op threads per run (1-64)


DEFAULTS = Limits()
# env var -> (field, type, lowest, highest allowed value)
ENV_VARS: dict[str, tuple[str, type, float, float]] = {
    "CONVSCOPE_MAX_EPOCHS": ("max_epochs", int, 1, 100),
    "CONVSCOPE_MAX_TRAIN_IMAGES": ("max_train_images", int, 1, 10_000_000),
    "CONVSCOPE_MAX_TRAIN_SECONDS": ("max_train_seconds", float, 1, 1e6),
    "CONVSCOPE_TRAINING_SLOTS": ("training_slots", int, 1, 64),
    "CONVSCOPE_THREADS": ("threads", int, 1, 64),
}


def _parse(name: str, raw: str, kind: type, low: float, high: float, default):
    """The env value as kind if it is a number in [low, high]; else the default, logged."""
    try:
        value = kind(raw.strip())
        ok = math.isfinite(value) and low <= value <= high
    except ValueError:
        ok = False
    if ok:
        return value
    log.warning("%s=%r is not a number from %g to %g; using %s", name, raw, low, high, default)
    return default


def load_limits(environ=None) -> Limits:
    """Limits from ``environ`` (default os.environ); unset or empty variables keep defaults."""
    environ = os.environ if environ is None else environ
    values = {}
    for name, (field, kind, low, high) in ENV_VARS.items():
        raw = environ.get(name, "")
        if raw.strip():
            values[field] = _parse(name, raw, kind, low, high, getattr(DEFAULTS, field))
    return Limits(**values)


def limit_train_config(config, limits: Limits | None = None):
    """(TrainConfig within the limits, sentences saying what was lowered) for a TrainConfig:
    epochs and max_images capped, max_seconds set to at most the per-run limit."""
    limits = limits or load_limits()
    changes, notes = {}, []
    if config.epochs > limits.max_epochs:
        changes["epochs"] = limits.max_epochs
        notes.append(f"epochs lowered from {config.epochs} to {limits.max_epochs}")
    images = config.max_images
    if images is None or images > limits.max_train_images:
        changes["max_images"] = limits.max_train_images
        if images is not None:
            notes.append(f"training images lowered from {images:,} to {limits.max_train_images:,}")
    if config.max_seconds is None or config.max_seconds > limits.max_train_seconds:
        changes["max_seconds"] = limits.max_train_seconds
    return dataclasses.replace(config, **changes), notes


# ----------------------------------------------------------------------------------------------
# Training slots


class TrainingSlots:
    """A first-come-first-served pool of ``capacity`` training slots, safe across threads.

    ``ticket()`` joins the queue. A ticket's ``position`` is 0 while it holds a slot, N while
    N-1 tickets wait ahead of it, and None once it is released or cancelled. Slots are handed
    on strictly in the order tickets were taken.
    """

    def __init__(self, capacity: int = 1):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a whole number of at least 1, got {capacity!r}")
        self.capacity = capacity
        self._cond = threading.Condition()
        self._running: set[int] = set()  # ids of tickets holding a slot
        self._waiting: deque[int] = deque()  # ids of tickets waiting, oldest first
        self._ids = itertools.count(1)

    def ticket(self) -> Ticket:
        """Join the queue (taking a free slot at once if there is one and nobody waits)."""
        with self._cond:
            ticket_id = next(self._ids)
            self._waiting.append(ticket_id)
            self._promote()
        return Ticket(self, ticket_id)

    @property
    def running(self) -> int:
        """How many tickets hold a slot now."""
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        """How many tickets wait for a slot now."""
        with self._cond:
            return len(self._waiting)

    def _promote(self) -> None:
        """Give free slots to the oldest waiting tickets (caller holds the lock)."""
        while self._waiting and len(self._running) < self.capacity:
            self._running.add(self._waiting.popleft())
        self._cond.notify_all()

    def _position(self, ticket_id: int) -> int | None:
        with self._cond:
            if ticket_id in self._running:
                return 0
            try:
                return self._waiting.index(ticket_id) + 1
            except ValueError:
                return None

    def _wait(self, ticket_id: int, timeout: float | None) -> bool:
        with self._cond:
            self._cond.wait_for(
                lambda: ticket_id in self._running or ticket_id not in self._waiting, timeout
            )
            return ticket_id in self._running

    def _leave(self, ticket_id: int) -> None:
        with self._cond:
            self._running.discard(ticket_id)
            if ticket_id in self._waiting:
                self._waiting.remove(ticket_id)
            self._promote()


class Ticket:
    """One session's place in a TrainingSlots queue. A context manager: leaving the ``with``
    block (normally, by an exception, or by Streamlit stopping the script) releases the slot or
    leaves the queue."""

    def __init__(self, pool: TrainingSlots, ticket_id: int):
        self._pool, self.id = pool, ticket_id

    @property
    def position(self) -> int | None:
        """0 = holds a slot (may run); N >= 1 = N-th in the queue; None = released/cancelled."""
        return self._pool._position(self.id)

    @property
    def active(self) -> bool:
        """True if this ticket holds a slot now."""
        return self.position == 0

    def wait(self, timeout: float | None = None) -> bool:
        """Block up to ``timeout`` seconds (None = no limit) until this ticket holds a slot.
        Returns True if it does; False if the time ran out or the ticket was cancelled. Call it
        with a short timeout in a loop to update the UI and let the learner cancel."""
        return self._pool._wait(self.id, timeout)

    def wait_steps(self, step: float = 0.5, timeout: float | None = None):
        """Yield the queue position every ``step`` seconds while waiting; returns when this
        ticket holds a slot. Raises TimeoutError after ``timeout`` s (the ticket is cancelled)
        and RuntimeError if the ticket was cancelled meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.wait(step):
            position = self.position
            if position is None:
                raise RuntimeError("this training request was cancelled")
            if deadline is not None and time.monotonic() >= deadline:
                self.cancel()
                raise TimeoutError(f"no training slot became free within {timeout:g} s")
            yield position

    def cancel(self) -> None:
        """Leave the queue, or give the slot back; safe to call more than once."""
        self._pool._leave(self.id)

    release = cancel  # the same action: after a run it frees the slot for the next ticket

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Ticket(id={self.id}, position={self.position})"


_shared: TrainingSlots | None = None
_shared_lock = threading.Lock()


def shared_slots() -> TrainingSlots:
    """The process-wide pool, sized by CONVSCOPE_TRAINING_SLOTS the first time it is asked for
    (every session of a server shares this one object)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TrainingSlots(load_limits().training_slots)
        return _shared


# ----------------------------------------------------------------------------------------------
# Model size

CHECKPOINT_HEADROOM_BYTES = 500_000  # safetensors header and metadata, with a wide margin
MAX_PARAMETERS = (MAX_BYTES - CHECKPOINT_HEADROOM_BYTES) // 4  # float32: 1,125,000 weights
MAX_ACTIVATION_VALUES = 100_000  # largest stage output for ONE image (64 maps of 39x39)
MAX_TRAINING_BYTES = 256 * 2**20  # estimated activation memory of one training batch
TRAINING_BYTES_PER_VALUE = 12  # float32 output + its gradient + autograd's saved copies


class ModelTooLargeError(ValueError):
    """A ModelConfig larger than this server allows; the message says what to change."""


@dataclass(frozen=True)
class ModelSize:
    """How big a ModelConfig is, computed from its shapes without building it."""

    parameters: int  # weights and biases of every conv and dense layer
    largest_activation: int  # values in the largest stage output, for one image
    largest_stage: str  # the name of that stage, e.g. "conv1"
    activation_values: int  # values of every stage output together, for one image

    @property
    def checkpoint_bytes(self) -> int:
        """About the size of its .safetensors file (float32 weights; header not counted)."""
        return 4 * self.parameters

    def training_bytes(self, batch_size: int) -> int:
        """A rough, deliberately generous estimate of the activation memory of one batch."""
        return TRAINING_BYTES_PER_VALUE * self.activation_values * batch_size


def model_size(config: ModelConfig) -> ModelSize:
    """Parameter count and activation sizes of the network ``config`` describes."""
    shapes = config.shapes()  # [(name, kind, shape)] in order, input first
    params, c = 0, config.in_channels
    for f, k, _, _ in config.blocks():
        params += f * c * k * k + f  # weight (f, c, k, k) + bias (f,)
        c = f
    features = config.flat_features
    if config.hidden_units:
        params += features * config.hidden_units + config.hidden_units
        features = config.hidden_units
    params += features * config.num_classes + config.num_classes
    sizes = [(math.prod(shape), name) for name, _, shape in shapes]
    largest, largest_name = max(sizes)
    return ModelSize(params, largest, largest_name, sum(n for n, _ in sizes))


def check_model_size(config: ModelConfig, batch_size: int | None = None) -> ModelSize:
    """The ModelSize of ``config``, or ModelTooLargeError when it has more than MAX_PARAMETERS
    weights, a stage output larger than MAX_ACTIVATION_VALUES per image, or (if batch_size is
    given) a training batch estimated above MAX_TRAINING_BYTES."""
    size = model_size(config)
    advice = "Use fewer filters, more pooling or a larger stride, or fewer hidden units."
    if size.parameters > MAX_PARAMETERS:
        raise ModelTooLargeError(
            f"This model would have {size.parameters:,} weights; this server allows at most "
            f"{MAX_PARAMETERS:,}, so that every trained model can be saved as a file of at "
            f"most {MAX_BYTES / 1e6:g} MB. {advice}"
        )
    if size.largest_activation > MAX_ACTIVATION_VALUES:
        raise ModelTooLargeError(
            f"The output of {size.largest_stage} would hold {size.largest_activation:,} numbers "
            f"per image; this server allows at most {MAX_ACTIVATION_VALUES:,}. {advice}"
        )
    if batch_size is not None and size.training_bytes(batch_size) > MAX_TRAINING_BYTES:
        mb = size.training_bytes(batch_size) / 2**20
        raise ModelTooLargeError(
            f"Training this model with batches of {batch_size} would need about {mb:,.0f} MB "
            f"of memory; this server allows {MAX_TRAINING_BYTES / 2**20:,.0f} MB. Use a smaller "
            f"batch size. {advice}"
        )
    return size
