"""Train the default model; write assets/default_model.safetensors and its training history.

    python scripts/train_default_model.py            # about a minute on one CPU core
    python scripts/train_default_model.py --out /tmp/check.safetensors   # e.g. to compare bytes
    python scripts/train_default_model.py --history-out /tmp/history.safetensors

The history (assets/default_history.safetensors) holds the per-epoch rows (losses, accuracies,
seconds) and the weights before training (epoch 0) and after epochs, recorded into a SnapshotLog
exactly as a session's run is (thinned to at most 21 evenly spaced epochs): the Training page
shows its curves and epoch scrubber before anyone trains. Recording copies the weights and never
touches the training's random numbers, so the model's weights are the same with or without it.
Its bytes differ from run to run in the rows' seconds only.

Deterministic: the default ModelConfig(), initialised from seed SEED, trained with TRAIN_CONFIG
on the bundled train split (4,000 digits) with augmentation (shifts, rotations, scale, stroke
thickness, so drawn digits that are off-centre, small or thick are recognised), in one torch
thread (a different thread count may sum floats in another order). Evaluated on the held-out
1,000. The same torch version on the same kind of CPU gives the same bytes on every run (another
CPU may pick SIMD kernels that sum in another order: see assets/README.md). The files are only
written if the held-out accuracy reaches MIN_ACCURACY.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cnn_core.checkpoint import DEFAULT_MODEL_PATH, save_checkpoint  # noqa: E402
from cnn_core.data import load_bundled  # noqa: E402
from cnn_core.model import CNN, ModelConfig  # noqa: E402
from cnn_core.snapshots import (  # noqa: E402
    DEFAULT_HISTORY_PATH,
    SnapshotLog,
    TrainingHistory,
    save_history,
)
from cnn_core.train import DivergedEvent, EpochEvent, TrainConfig, evaluate, train  # noqa: E402

SEED = 0  # initial weights and the training run's generator (the first and only seed tried)
MIN_ACCURACY = 0.97  # held-out accuracy the default model must reach
TRAIN_CONFIG = TrainConfig(
    optimizer="adam",
    learning_rate=3e-3,
    batch_size=64,
    epochs=60,
    augment=True,
    seed=SEED,
    lr_schedule="cosine",
    report_every=1000,
)


def train_default(config: TrainConfig = TRAIN_CONFIG) -> tuple[CNN, TrainingHistory]:
    """The default ModelConfig trained with config, and its history (a row per epoch, snapshots
    of epoch 0 and after each epoch); prints a line every 5 epochs."""
    split = load_bundled()
    model = CNN(ModelConfig(), seed=SEED)
    rows, log = [], SnapshotLog()
    log.record(0, model)  # the random initial weights
    for event in train(model, split, config):
        if isinstance(event, EpochEvent):
            rows.append(epoch_row(event))
            log.record(event.epoch, model)  # the weights just evaluated
            if event.epoch % 5 == 0 or event.epoch == 1:
                print(
                    f"epoch {event.epoch:3d}: train loss {event.train_loss:.4f} "
                    f"acc {event.train_accuracy:.4f} | held-out loss {event.test_loss:.4f} "
                    f"acc {event.test_accuracy:.4f} ({event.seconds:.1f} s)",
                    flush=True,
                )
        elif isinstance(event, DivergedEvent):
            raise SystemExit(f"training diverged: {event.reason}")
    names = tuple(str(d) for d in range(model.config.num_classes))
    return model, TrainingHistory(tuple(rows), log, model.config, names)


def epoch_row(event: EpochEvent) -> dict:
    """The per-epoch figures the Training page plots (the same dict the sidebar records)."""
    return {
        "epoch": event.epoch,
        "train_loss": float(event.train_loss),
        "test_loss": float(event.test_loss),
        "train_accuracy": float(event.train_accuracy),
        "test_accuracy": float(event.test_accuracy),
        "seconds": float(event.seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH, help="model file")
    parser.add_argument(
        "--history-out", type=Path, default=DEFAULT_HISTORY_PATH, help="training history file"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)  # faster for this model on 2 cores, and a fixed summation order
    started = time.perf_counter()
    model, history = train_default()
    seconds = time.perf_counter() - started
    accuracy = evaluate(model, load_bundled().test).accuracy
    print(f"held-out accuracy {accuracy:.4f} after {TRAIN_CONFIG.epochs} epochs, {seconds:.0f} s")
    if accuracy < MIN_ACCURACY:
        raise SystemExit(f"accuracy {accuracy:.4f} is below {MIN_ACCURACY}; nothing written")
    metadata = {
        "trained_on": "bundled MNIST digits (4,000)",
        "test_accuracy": f"{accuracy:.4f}",
        "tested_on": "bundled held-out MNIST digits (1,000)",
        "epochs": str(TRAIN_CONFIG.epochs),
        "seed": str(SEED),
        "train_config": dataclasses.asdict(TRAIN_CONFIG),
        "torch_version": torch.__version__,
    }
    save_checkpoint(model, args.out, extra_metadata=metadata)
    print(f"wrote {args.out}")
    save_history(history, args.history_out, extra_metadata=metadata)
    kept = history.snapshots
    print(f"wrote {args.history_out}: {len(history.rows)} rows, snapshots of epochs {kept.epochs}")


if __name__ == "__main__":
    main()
