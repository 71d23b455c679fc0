"""Held-out accuracy and time of the sidebar's default training run, per data set and seed.

The first press of Train should end at a good accuracy in a short time. This trains the default
ModelConfig(), initialised from the seed (CNN(ModelConfig(), seed=seed), as
scripts/train_default_model.py does), with cnn_core.train.train and a TrainConfig whose seed is
the same seed, in one torch thread (as the app trains), and reports the test accuracy of the
final epoch (EpochEvent.test_accuracy) and the run's wall time (train()'s generator consumed
to the end, its end-of-epoch evaluations included).

- digits: the bundled 4,000 training / 1,000 held-out MNIST digits (cnn_core.data.load_bundled).
  Target: >= 97% held-out accuracy.
- fashion-mnist: 60,000 / 10,000 images from Debian's `dataset-fashion-mnist`
  (/usr/share/datasets/fashion-mnist), read by cnn_core.data.load_dataset. Target: >= 88%
  within 300 s (the candidate's max_seconds).

The settings to check are the named CANDIDATES below (the chosen defaults first), or one
setting given on the command line (--dataset plus any TrainConfig field overrides, starting from
that data set's default candidate).

    python bench/sidebar_defaults.py                       # both defaults, seeds 0 1 2
    python bench/sidebar_defaults.py --candidate digits --seeds 0 1 2
    python bench/sidebar_defaults.py --dataset digits --epochs 12 --learning-rate 1e-3 --seeds 0
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import time

import common  # noqa: F401  (puts the repository root on sys.path)
import torch
from common import load_average, print_table

from cnn_core import CNN, ModelConfig
from cnn_core.data import DataError, available, load_bundled, load_dataset
from cnn_core.train import DivergedEvent, EpochEvent, StoppedEvent, TrainConfig, train

TARGETS = {"digits": 0.97, "fashion-mnist": 0.88}  # final test accuracy each run must reach

# name -> (data set, TrainConfig fields except seed). The first two are the chosen defaults.
# report_every=1 and max_images are what the sidebar passes (limit_train_config caps
# max_images at 60,000: all of Fashion-MNIST); max_seconds=300 is the cap a run must finish in.
CANDIDATES: dict[str, tuple[str, dict]] = {
    "digits": (
        "digits",
        dict(
            optimizer="adam",
            learning_rate=3e-3,
            batch_size=16,
            epochs=15,
            augment=True,
            lr_schedule="cosine",
            max_images=4000,
            report_every=1,
        ),
    ),
    "fashion-mnist": (
        "fashion-mnist",
        dict(
            optimizer="adam",
            learning_rate=3e-3,
            batch_size=64,
            epochs=5,
            augment=False,
            lr_schedule="cosine",
            max_images=60_000,
            max_seconds=300,
            report_every=1,
        ),
    ),
    # runners-up: 20 epochs on digits (more margin), 3 epochs on Fashion-MNIST (shorter)
    "digits-20": (
        "digits",
        dict(
            optimizer="adam",
            learning_rate=3e-3,
            batch_size=16,
            epochs=20,
            augment=True,
            lr_schedule="cosine",
            max_images=4000,
            report_every=1,
        ),
    ),
    "fashion-mnist-3": (
        "fashion-mnist",
        dict(
            optimizer="adam",
            learning_rate=3e-3,
            batch_size=64,
            epochs=3,
            augment=False,
            lr_schedule="cosine",
            max_images=60_000,
            max_seconds=300,
            report_every=1,
        ),
    ),
}

# command-line option -> TrainConfig field, for one setting given on the command line
OVERRIDES = {
    "optimizer": str,
    "learning_rate": float,
    "batch_size": int,
    "epochs": int,
    "lr_schedule": str,
    "max_images": int,
    "max_seconds": float,
}


def load_split(name: str):
    """The bundled digits, or Fashion-MNIST (installing Debian's package first if needed and
    this runs as root)."""
    if name == "digits":
        return load_bundled()
    if not available(name) and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "dataset-fashion-mnist"], check=True, env=env)
    try:
        return load_dataset(name)
    except DataError as err:
        raise SystemExit(f"{name} is needed: {err}") from None


def describe(fields: dict) -> str:
    """The candidate's TrainConfig fields, short, for the table."""
    return ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()
    )


def run(split, fields: dict, seed: int, quiet: bool) -> tuple[float, int, float, str]:
    """Train once: (final test accuracy, epochs completed, seconds, how it ended)."""
    config = TrainConfig(seed=seed, **fields)
    model = CNN(ModelConfig(), seed=seed)
    accuracy, epochs, ending = float("nan"), 0, "done"
    started = time.perf_counter()
    for event in train(model, split, config):
        if isinstance(event, EpochEvent):
            accuracy, epochs = event.test_accuracy, event.epoch
            if not quiet:
                print(
                    f"  seed {seed} epoch {event.epoch:2d}: train acc {event.train_accuracy:.4f}"
                    f" | test acc {event.test_accuracy:.4f} ({event.seconds:.1f} s, "
                    f"{time.perf_counter() - started:.0f} s in all)",
                    flush=True,
                )
        elif isinstance(event, StoppedEvent):
            ending = "time limit"
        elif isinstance(event, DivergedEvent):
            ending = "diverged"
    return accuracy, epochs, time.perf_counter() - started, ending


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--candidate",
        nargs="+",
        choices=list(CANDIDATES),
        help="named settings from CANDIDATES (default: digits fashion-mnist)",
    )
    parser.add_argument(
        "--dataset", choices=list(TARGETS), help="check one setting: this data set's candidate"
    )
    for name, kind in OVERRIDES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"override {name}")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, help="override")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="(0 1 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1, as the app)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.dataset:  # one setting from the command line
        fields = dict(CANDIDATES[args.dataset][1])
        for name in [*OVERRIDES, "augment"]:
            if getattr(args, name) is not None:
                fields[name] = getattr(args, name)
        runs = [(args.dataset, fields)]
    else:
        runs = [CANDIDATES[name] for name in args.candidate or ("digits", "fashion-mnist")]

    rows, splits, load_at_start = [], {}, load_average()
    for dataset, fields in runs:
        split = splits.setdefault(dataset, load_split(dataset))
        print(f"{dataset}: {describe(fields)}", flush=True)
        for seed in args.seeds:
            accuracy, epochs, seconds, ending = run(split, fields, seed, args.quiet)
            ok = ending == "done" and accuracy >= TARGETS[dataset]
            rows.append(
                [dataset, describe(fields), seed, f"{accuracy:.2%}", epochs, f"{seconds:.1f}",
                 ending, "yes" if ok else "NO", load_average()]
            )  # fmt: skip
    print(f"\nSidebar default runs, {args.threads} torch thread(s), torch {torch.__version__}")
    headers = ["data set", "settings", "seed", "final test accuracy", "epochs", "seconds",
               "ended", "target met", "load at the end"]  # fmt: skip
    print_table(headers, rows)
    targets = ", ".join(f"{k} >= {v:.0%}" for k, v in TARGETS.items())
    print(f"\nTargets (final epoch's test accuracy): {targets}. At the start: {load_at_start}.")
    print(f"Fields not shown have TrainConfig's defaults: {dataclasses.asdict(TrainConfig())}")


if __name__ == "__main__":
    main()
