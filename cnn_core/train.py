"""Training as a generator of progress events; evaluation; the confusion matrix.

    for event in train(model, split, TrainConfig(epochs=3)):
        ...  # BatchEvent every few batches, EpochEvent after each epoch, then DoneEvent

``train`` changes ``model`` in place, one optimizer step at a time, and yields only between steps.
So a consumer that stops early (``break`` or ``generator.close()``, e.g. a Stop button) always
leaves the model holding the weights of the last finished step, and in eval mode.

Randomness (shuffling, augmentation, dropout) comes from one ``torch.Generator`` seeded with
``TrainConfig.seed``; the process-wide RNG (``torch.manual_seed``) is never used, because many
sessions share one server process. The same seed, model and data give the same weights.

Divergence: a non-finite loss or gradient norm, a loss above ``divergence_threshold`` or a
non-finite weight after a step ends the run. The model is rolled back to the weights it had at
the start of that epoch -- the last weights that were evaluated (or the initial weights in epoch
1), i.e. the last good weights the learner has seen numbers for -- and a DivergedEvent says why.
The start of the epoch is used, not the previous step, because a loss that is climbing towards
the threshold has usually already spoiled the weights a few steps before it crosses it.

Control while running (``train(..., control=TrainControl())``): whoever iterates the generator,
possibly from another thread, can change the learning rate from the next step on, ask for the
next step's numbers (a StepEvent: the batch, the gradients, the update, the weights before and
after), and report time spent paused, which does not count against ``max_seconds``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .augment import augment_batch, random_affine, random_thickness  # noqa: F401 (public)
from .ops import check_number
from .step_record import StepEvent, _StepRecorder, optimizer_update  # noqa: F401 (public)

OPTIMIZERS = ("adam", "sgd")
LR_SCHEDULES = ("constant", "cosine", "onecycle")
WARMUP = 0.2  # onecycle: the fraction of the steps in which the learning rate rises

# ----------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class TrainConfig:
    """How to train: every field has a default; bad values raise ValueError on construction."""

    optimizer: str = "adam"  # "adam" or "sgd"
    learning_rate: float = 1e-3  # step size, > 0 and <= 10
    momentum: float = 0.9  # SGD momentum (0-0.99); ignored by Adam, which has its own betas
    batch_size: int = 64  # images per optimizer step (1-1024); the last batch may be smaller
    epochs: int = 5  # passes over the training set (1-100)
    augment: bool = False  # random shifts, rotations, scale and stroke thickness per batch
    seed: int = 0  # seeds the run's own torch.Generator (shuffling, augmentation, dropout), >= 0
    max_images: int | None = None  # use a seeded subset of this many training images; None = all
    report_every: int = 10  # batches between BatchEvents (1-10000); an epoch's last batch reports
    divergence_threshold: float = 1e3  # a batch loss above this counts as diverged (> 0)
    max_seconds: float | None = None  # wall-clock limit of the run (StoppedEvent); None = none
    lr_schedule: str = "constant"  # "constant"; "cosine": per step from learning_rate to ~0;
    # "onecycle": up from ~0 to learning_rate in the first WARMUP of the steps, then cosine to ~0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        check_number("learning rate", self.learning_rate, 0, 10, whole=False, low_open=True)
        check_number("momentum", self.momentum, 0, 0.99, whole=False)
        check_number("batch size", self.batch_size, 1, 1024, whole=True)
        check_number("epochs", self.epochs, 1, 100, whole=True)
        check_number("seed", self.seed, 0, 2**63 - 1, whole=True)
        check_number("report_every", self.report_every, 1, 10_000, whole=True)
        check_number(
            "divergence threshold", self.divergence_threshold, 0, 1e30, whole=False, low_open=True
        )
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be True or False, got {self.augment!r}")
        if self.max_images is not None:
            check_number("max_images", self.max_images, 1, 10_000_000, whole=True)
        if self.max_seconds is not None:
            check_number("max_seconds", self.max_seconds, 0, 1e6, whole=False, low_open=True)


# ----------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class BatchEvent:
    """Progress inside an epoch, every ``report_every`` batches and after the epoch's last one."""

    epoch: int  # 1-based
    batch: int  # 1-based index of the batch just finished, within the epoch
    num_batches: int  # batches per epoch
    loss: float  # mean cross-entropy of the batches so far in this epoch (running)
    accuracy: float  # fraction right in the batches so far in this epoch (running, 0-1)
    images_per_second: float  # training throughput so far in this epoch
    images_seen: int  # training images processed since the run started (all epochs)


@dataclass(frozen=True, eq=False)  # eq=False: confusion is an array (identity comparison)
class EpochEvent:
    """The end of an epoch: training figures and an evaluation on the held-out test set."""

    epoch: int  # 1-based
    train_loss: float  # mean loss over the epoch's batches, as the optimizer saw them
    train_accuracy: float  # accuracy over the epoch's batches (augmented, dropout on if set)
    test_loss: float  # mean cross-entropy on split.test, eval mode
    test_accuracy: float  # accuracy on split.test (0-1)
    confusion: np.ndarray  # (num_classes, num_classes) int64: rows true class, cols predicted
    seconds: float  # wall-clock time of this epoch, training and evaluation


@dataclass(frozen=True)
class DivergedEvent:
    """Training blew up; the weights were rolled back and the run ended."""

    epoch: int  # 1-based epoch in which it happened
    batch: int  # 1-based batch in which it happened
    reason: str  # a sentence for the learner: what happened and what to change
    restored: bool  # True if the model now holds the weights from the start of that epoch


@dataclass(frozen=True)
class StoppedEvent:
    """The run hit ``max_seconds``; the model keeps the weights of the last finished step."""

    reason: str  # why, as the end of "stopped because ...": "it reached its time limit of ..."


@dataclass(frozen=True)
class DoneEvent:
    """The run finished every epoch."""

    epochs_completed: int


@dataclass
class TrainControl:
    """Signals to a running ``train`` generator, read between optimizer steps. Plain attributes:
    another thread may set them (each is one assignment; the generator reads each once a step)."""

    learning_rate: float | None = None  # from the next step on, instead of the config's schedule
    record_next_step: bool = False  # the next step yields a StepEvent (then this turns False)
    paused_seconds: float = 0.0  # time the consumer held the run; not counted in max_seconds


TrainEvent = BatchEvent | EpochEvent | DivergedEvent | StoppedEvent | DoneEvent | StepEvent


# ----------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True, eq=False)  # eq=False: the fields are arrays
class Evaluation:
    """How a model does on a data set."""

    loss: float  # mean cross-entropy
    accuracy: float  # fraction of predictions equal to the label (0-1)
    confusion: np.ndarray  # (K, K) int64: confusion[true, predicted]; sums to N
    probabilities: np.ndarray  # (N, K) float32 softmax outputs
    predictions: np.ndarray  # (N,) int64 argmax of probabilities


def check_dataset(dataset, config) -> tuple[np.ndarray, torch.Tensor]:
    """A Dataset's images (N, H, W) uint8, left as they are (shared, never copied whole), and
    its labels as an int64 tensor (N,), checked against the model's ModelConfig."""
    images, labels = dataset.images, np.asarray(dataset.labels)
    size = config.input_size
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (size, size):
        raise ValueError(
            f"the data set must hold {size}x{size} uint8 images; got {images.dtype} {images.shape}"
        )
    if len(images) == 0 or labels.shape != (len(images),):
        raise ValueError(f"{len(images)} images need as many labels, got shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= config.num_classes:
        raise ValueError(f"labels must be between 0 and {config.num_classes - 1}")
    return images, torch.from_numpy(labels.astype(np.int64))  # astype copies: writable


def batch_images(images: np.ndarray, idx, channels: int = 1) -> torch.Tensor:
    """Images idx of a uint8 (N, H, W) array as float32 (B, C, H, W) in [0, 1], the same values
    as Dataset.as_float() (x / 255 in float32), the grey channel repeated C times."""
    x = torch.from_numpy(images[np.asarray(idx)]).float() / 255.0  # (B, H, W) a fresh copy
    return x.unsqueeze(1).expand(-1, channels, -1, -1)  # (B, C, H, W)


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts: entry [t, p] is how many images of class t were predicted as p."""
    labels, predictions = np.asarray(labels, np.int64), np.asarray(predictions, np.int64)
    flat = np.bincount(labels * num_classes + predictions, minlength=num_classes**2)
    return flat.reshape(num_classes, num_classes)


@torch.no_grad()
def evaluate(model, dataset, batch_size: int = 500) -> Evaluation:
    """Loss, accuracy, confusion matrix and probabilities of ``model`` on ``dataset``.

    Runs in eval mode without gradients and puts the module back in the mode it was in. On a
    model already in eval mode (like the shared default model) it changes nothing at all.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
    images, y = check_dataset(dataset, model.config)  # (N, H, W) uint8, (N,)
    channels, n = model.config.in_channels, len(images)
    was_training = model.training
    if was_training:
        model.eval()
    try:
        logits = torch.cat(  # (N, K)
            [
                model(batch_images(images, np.arange(i, min(i + batch_size, n)), channels))
                for i in range(0, n, batch_size)
            ]
        )
    finally:
        if was_training:
            model.train()
    loss = F.cross_entropy(logits, y).item()  # mean over N
    probabilities = torch.softmax(logits, dim=1).numpy()  # (N, K)
    predictions = probabilities.argmax(axis=1).astype(np.int64)  # (N,)
    labels = y.numpy()
    return Evaluation(
        loss=loss,
        accuracy=float((predictions == labels).mean()),
        confusion=confusion_matrix(labels, predictions, model.config.num_classes),
        probabilities=probabilities.astype(np.float32),
        predictions=predictions,
    )


# ----------------------------------------------------------------------------------------------
# Training


def make_optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer the config names, over all the model's parameters."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.learning_rate, momentum=config.momentum
        )
    return torch.optim.Adam(model.parameters(), lr=config.learning_rate)


def learning_rate_at(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of 0-based step ``step``: constant; cosine from lr down towards 0; or
    onecycle, a linear warm-up to lr in the first WARMUP of the steps and then a cosine down (a
    high rate that a network with batch normalisation can take, reached without a jolt)."""
    lr = config.learning_rate
    if config.lr_schedule == "constant":
        return lr
    if config.lr_schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
    warmup = max(1, round(WARMUP * total_steps))
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))


def gradient_norm(model) -> float:
    """The L2 norm of all the parameters' gradients together (inf if one is infinite, NaN if
    one is NaN).

    Every step needs it, so the common case is one fused float32 reduction (about 5x cheaper
    than a float64 sum per parameter); only when that is not finite is the norm taken again in
    float64, so that large but finite gradients are not mistaken for an overflow.
    """
    grads = [p.grad.detach() for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    norm = float(torch.nn.utils.get_total_norm(grads))
    if math.isfinite(norm):
        return norm
    squares = [g.double().pow(2).sum() for g in grads]
    return math.sqrt(float(torch.stack(squares).sum()))


def weights_finite(model) -> bool:
    """True if no parameter holds NaN or an infinity.

    One fused norm of all the weights is finite only if every weight is; when it is not (a
    non-finite weight, or finite weights so large that the float32 norm overflows) every
    parameter is checked exactly.
    """
    params = [p.detach() for p in model.parameters()]
    if not params or math.isfinite(float(torch.nn.utils.get_total_norm(params))):
        return True
    return all(bool(torch.isfinite(p).all()) for p in params)


def train_step(model, optimizer, x, y, generator=None) -> tuple[torch.Tensor, float, int]:
    """One optimizer step on one batch: zero the gradients, forward, loss, backward, and step --
    unless the loss or the gradient norm is not finite, in which case no step is taken.

    x: (B, C, H, W), y: (B,). Returns (loss tensor, gradient norm, number right). The caller
    decides what a too-large loss means (the step has already been taken then).
    """
    optimizer.zero_grad()  # every step: gradients never accumulate across batches
    logits = model(x, generator=generator)  # (B, K)
    loss = F.cross_entropy(logits, y)  # mean over the batch
    if not torch.isfinite(loss):
        return loss.detach(), math.nan, 0
    loss.backward()
    norm = gradient_norm(model)
    if math.isfinite(norm):
        optimizer.step()
    correct = int((logits.detach().argmax(dim=1) == y).sum())
    return loss.detach(), norm, correct


@dataclass
class _Progress:
    """Counters of one run, shared by the epoch loop and the event builders."""

    config: TrainConfig
    num_batches: int
    started: float  # time.perf_counter() at the start of the run
    control: TrainControl  # learning-rate override, step recording, paused time
    step: int = 0  # optimizer steps taken, all epochs
    images_seen: int = 0
    loss_sum: float = 0.0  # this epoch: sum of batch loss * batch size
    correct: int = 0  # this epoch
    epoch_images: int = 0  # this epoch
    epoch_started: float = 0.0
    epoch_paused: float = 0.0  # control.paused_seconds when this epoch started

    def start_epoch(self) -> None:
        self.loss_sum, self.correct, self.epoch_images = 0.0, 0, 0
        self.epoch_started = time.perf_counter()
        self.epoch_paused = self.control.paused_seconds

    def batch_event(self, epoch: int, batch: int) -> BatchEvent:
        paused = self.control.paused_seconds - self.epoch_paused  # not counted in the rate
        elapsed = max(time.perf_counter() - self.epoch_started - paused, 1e-9)
        return BatchEvent(
            epoch=epoch,
            batch=batch,
            num_batches=self.num_batches,
            loss=self.loss_sum / self.epoch_images,
            accuracy=self.correct / self.epoch_images,
            images_per_second=self.epoch_images / elapsed,
            images_seen=self.images_seen,
        )

    def out_of_time(self) -> bool:
        """True once the run has trained (time paused not counted) for over max_seconds."""
        limit = self.config.max_seconds
        busy = time.perf_counter() - self.started - self.control.paused_seconds
        return limit is not None and busy > limit

    def learning_rate(self) -> float:
        """This step's learning rate: the control's override, else the config's schedule."""
        override = self.control.learning_rate
        if override is not None:
            return override
        return learning_rate_at(self.config, self.step, self.config.epochs * self.num_batches)


def _divergence_reason(config: TrainConfig, loss: float, norm: float, finite: bool, where: str):
    """A sentence saying what went wrong, or None if this step was fine."""
    advice = f"the learning rate {config.learning_rate:g} is probably too high"
    if not math.isfinite(loss):
        return f"the loss became {loss:.3g} {where}; {advice}"
    if loss > config.divergence_threshold:
        limit = f"{config.divergence_threshold:g}"
        return f"the loss became {loss:.3g} (over {limit}) {where}; {advice}"
    if not math.isfinite(norm):
        return f"the gradient became {norm:.3g} {where}; {advice}"
    if not finite:
        return f"a weight became infinite or NaN {where}; {advice}"
    return None


def _take_record(control: TrainControl) -> bool:
    """True (once) when the consumer asked for the next step's numbers."""
    if not control.record_next_step:
        return False
    control.record_next_step = False
    return True


def _run_epoch(model, optimizer, images, y, generator, epoch: int, progress: _Progress):
    """Train one epoch, yielding BatchEvents. Returns None when the epoch is complete, or the
    (batch, reason) of a divergence, or a StoppedEvent when the time limit is hit."""
    config, channels = progress.config, model.config.in_channels
    progress.start_epoch()
    order = torch.randperm(len(images), generator=generator).numpy()  # (N,) this epoch's shuffle
    for batch in range(1, progress.num_batches + 1):
        end = len(order) if batch == progress.num_batches else batch * config.batch_size
        idx = order[(batch - 1) * config.batch_size : end]  # (B,): the last takes the rest
        xb, yb = batch_images(images, idx, channels), y[idx]  # (B, C, H, W), (B,)
        if config.augment:
            xb = augment_batch(xb, generator)
        lr = progress.learning_rate()
        for group in optimizer.param_groups:
            group["lr"] = lr
        recorder = _StepRecorder.start(model, xb, yb) if _take_record(progress.control) else None
        loss, norm, correct = train_step(model, optimizer, xb, yb, generator)
        loss = loss.item()
        finite = math.isfinite(norm) and weights_finite(model)
        reason = _divergence_reason(config, loss, norm, finite, f"at epoch {epoch}, batch {batch}")
        if reason:
            return batch, reason
        if recorder is not None:
            yield recorder.finish(model, optimizer, epoch, batch, lr, config.optimizer)
        progress.step += 1
        progress.images_seen += len(idx)
        progress.loss_sum += loss * len(idx)
        progress.correct += correct
        progress.epoch_images += len(idx)
        if batch % config.report_every == 0 or batch == progress.num_batches:
            yield progress.batch_event(epoch, batch)
        if progress.out_of_time():
            return StoppedEvent(
                f"it reached its time limit of {config.max_seconds:g} s of training"
            )
    return None


def _training_data(split, model, config: TrainConfig) -> tuple[np.ndarray, torch.Tensor]:
    """Training images (N, H, W) uint8 and labels (N,), capped at config.max_images by a
    seeded subset."""
    data = split.train
    if config.max_images is not None and config.max_images < len(data):
        data = data.subset(config.max_images, seed=config.seed)
    return check_dataset(data, model.config)


def ending(event: TrainEvent) -> tuple[str, str] | None:
    """(outcome, reason) if ``event`` ends the run ("done", "diverged" or "stopped": the time
    limit), else None. Either worker's loop reads the end of a run through this."""
    if isinstance(event, DoneEvent):
        return "done", ""
    if isinstance(event, (DivergedEvent, StoppedEvent)):
        return ("diverged" if isinstance(event, DivergedEvent) else "stopped"), event.reason
    return None


def train(
    model, split, config: TrainConfig, control: TrainControl | None = None
) -> Iterator[TrainEvent]:
    """Train ``model`` in place on ``split.train``, evaluating on ``split.test`` after each epoch.

    Yields BatchEvent (progress), EpochEvent (after each epoch), and finally exactly one of
    DoneEvent, DivergedEvent (weights rolled back to the start of that epoch) or StoppedEvent
    (max_seconds). The model is in train mode while running and in eval mode afterwards, also
    when the consumer stops early; it then holds the weights of the last finished step.
    ``control`` (optional) is read between steps: see TrainControl and StepEvent.
    """
    if not weights_finite(model):
        raise ValueError("the model's weights contain NaN or infinite values; reset it first")
    images, y = _training_data(split, model, config)  # (N, H, W) uint8, (N,)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = make_optimizer(model, config)
    num_batches = model.config.batches_per_epoch(len(images), config.batch_size)
    control = control if control is not None else TrainControl()
    progress = _Progress(config, num_batches, time.perf_counter(), control)
    model.train()
    try:
        for epoch in range(1, config.epochs + 1):
            good = copy.deepcopy(model.state_dict())  # the weights to roll back to
            outcome = yield from _run_epoch(model, optimizer, images, y, generator, epoch, progress)
            if isinstance(outcome, StoppedEvent):
                yield outcome
                return
            if outcome is not None:
                model.load_state_dict(good)
                yield DivergedEvent(epoch, outcome[0], outcome[1], restored=weights_finite(model))
                return
            yield _epoch_event(model, split, epoch, progress)
            model.train()  # evaluate() restores it anyway; explicit for the next epoch
        yield DoneEvent(config.epochs)
    finally:
        model.eval()


def _epoch_event(model, split, epoch: int, progress: _Progress) -> EpochEvent:
    """Evaluate on the test set and summarise the epoch."""
    result = evaluate(model, split.test)
    return EpochEvent(
        epoch=epoch,
        train_loss=progress.loss_sum / progress.epoch_images,
        train_accuracy=progress.correct / progress.epoch_images,
        test_loss=result.loss,
        test_accuracy=result.accuracy,
        confusion=result.confusion,
        seconds=time.perf_counter() - progress.epoch_started,
    )
