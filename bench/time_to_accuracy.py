"""Time to 90% test accuracy on Fashion-MNIST: ConvScope's sidebar preset against a reference.

Data: Fashion-MNIST's full 60,000 training and 10,000 test images, read by
cnn_core.data.load_dataset from Debian's `dataset-fashion-mnist` package (installed with
apt-get if the files are missing and this runs as root).

- ConvScope: the sidebar's preset (cnn_core.catalog.PRESETS, default "fashion-fast": batch norm,
  stride-2 convs, Adam with a one-cycle schedule, no augmentation) trained by
  cnn_core.train.train on the full training set, seed 0, exactly as the sidebar's Train button
  would; `--preset default` instead trains the default ModelConfig with the sidebar's first
  widget values (Adam, lr 0.001, batch 64, augmentation on) for as many epochs as the time
  allows. train()'s own end-of-epoch evaluation is part of its time.
- Reference: conv 16@5x5 pad 2 -> BatchNorm -> ReLU -> max 2 -> conv 32@5x5 pad 2 -> BatchNorm
  -> ReLU -> max 2 -> linear 1568->10; Adam lr 0.001, batch 100; a bare PyTorch loop.

Both are trained in the same run, one after the other, with the same torch thread count. The
test accuracy (all 10,000 test images, eval mode) is measured after every --eval-images
training images; that measurement is not counted in the training time. A net stops at the
target accuracy or at --max-seconds of training; the table then gives its best accuracy.

    python bench/time_to_accuracy.py --max-seconds 300
    python bench/time_to_accuracy.py --preset default   # the default network, as before
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
import torch.nn.functional as F
from common import load_average, print_table
from torch import nn

from cnn_core import CNN, ModelConfig
from cnn_core.catalog import PRESETS
from cnn_core.data import DataError, available, load_dataset
from cnn_core.train import BatchEvent, TrainConfig, evaluate, train


def fashion_mnist():
    """The Fashion-MNIST split, installing Debian's package first if needed (root only)."""
    if not available("fashion-mnist") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "dataset-fashion-mnist"], check=True, env=env)
    try:
        return load_dataset("fashion-mnist")
    except DataError as err:
        raise SystemExit(f"Fashion-MNIST is needed: {err}") from None


class Clock:
    """Training time that can be paused while the test set is evaluated."""

    def __init__(self):
        self.total, self.started = 0.0, time.perf_counter()

    def pause(self) -> float:
        self.total += time.perf_counter() - self.started
        return self.total

    def resume(self) -> None:
        self.started = time.perf_counter()


class Result:
    """Accuracy checkpoints of one net: [(training seconds, images seen, test accuracy)]."""

    def __init__(self, name: str, target: float):
        self.name, self.target, self.points = name, target, []

    def add(self, seconds: float, images: int, accuracy: float) -> bool:
        self.points.append((seconds, images, accuracy))
        return accuracy >= self.target

    def row(self) -> list:
        best = max(self.points, key=lambda p: p[2])
        hit = next((p for p in self.points if p[2] >= self.target), None)
        reached = f"{hit[0]:.0f} s ({hit[1]:,} images)" if hit else "not reached"
        return [self.name, reached, f"{best[2]:.2%}", f"{best[0]:.0f} s", f"{best[1]:,}"]


def convscope_run(args) -> tuple[str, ModelConfig, TrainConfig]:
    """(name, architecture, training) of the preset, or of the default widget values."""
    if args.preset == "default":
        train_config = TrainConfig(epochs=100, batch_size=64, augment=not args.no_augment)
        return "ConvScope default", ModelConfig(), train_config
    preset = PRESETS[args.preset]
    run = preset.run
    train_config = TrainConfig(
        optimizer="adam", learning_rate=run["lr"], lr_schedule=run["schedule"],
        batch_size=run["batch"], epochs=run["epochs"], augment=run["augment"], seed=0,
    )  # fmt: skip
    return f"ConvScope preset {args.preset!r}", ModelConfig(**preset.model), train_config


def run_convscope(split, args) -> Result:
    """ConvScope's training on the full training set, evaluated every --eval-images training
    images and at the end of the run (a preset's run has a fixed number of epochs)."""
    name, model_config, config = convscope_run(args)
    config = dataclasses.replace(config, report_every=5)
    result, model = Result(name, args.target), CNN(model_config, seed=0)
    clock, next_eval, seen = Clock(), args.eval_images, 0
    for event in train(model, split, config):
        if not isinstance(event, BatchEvent):
            continue
        seen = event.images_seen
        if seen >= next_eval:
            seconds = clock.pause()
            next_eval += args.eval_images
            if result.add(seconds, seen, evaluate(model, split.test).accuracy):
                return result
            if seconds >= args.max_seconds:
                return result  # closing the generator: the model keeps its last weights
            clock.resume()
    if not result.points or result.points[-1][1] < seen:  # the run ended between two tests
        result.add(clock.pause(), seen, evaluate(model, split.test).accuracy)
    return result


def reference_net() -> nn.Module:
    torch.manual_seed(0)  # a benchmark process of its own: the global RNG is fine here
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10),
    )  # fmt: skip


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    right = sum(int((model(x[i : i + 1000]).argmax(1) == y[i : i + 1000]).sum())
                for i in range(0, len(x), 1000))  # fmt: skip
    model.train()
    return right / len(x)


def tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(dataset.as_float()).unsqueeze(1)  # (N, 1, 28, 28)
    return x, torch.from_numpy(dataset.labels.astype("int64"))  # (N,)


def run_reference(split, args) -> Result:
    """The reference net in a bare loop: Adam 0.001, batch 100."""
    result, model = Result("Reference (BatchNorm)", args.target), reference_net()
    (x, y), (xt, yt) = tensors(split.train), tensors(split.test)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator, seen, next_eval, clock = (
        torch.Generator().manual_seed(0),
        0,
        args.eval_images,
        Clock(),
    )
    model.train()
    while True:
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), 100):
            idx = order[i : i + 100]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            seen += len(idx)
            if seen >= next_eval:
                seconds = clock.pause()
                next_eval += args.eval_images
                if result.add(seconds, seen, accuracy(model, xt, yt)):
                    return result
                if seconds >= args.max_seconds:
                    return result
                clock.resume()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-seconds", type=float, default=300, help="training time cap (300)")
    parser.add_argument("--target", type=float, default=0.90, help="test accuracy (0.90)")
    parser.add_argument("--eval-images", type=int, default=10_000, help="images between tests")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument(
        "--preset",
        default="fashion-fast",
        choices=[*PRESETS, "default"],
        help="ConvScope's run: a sidebar preset, or the default widget values",
    )
    parser.add_argument("--no-augment", action="store_true", help="--preset default: no augment")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = fashion_mnist()
    start_load = load_average()
    results = [run_convscope(split, args), run_reference(split, args)]
    print(
        f"Fashion-MNIST, time to {args.target:.0%} test accuracy, {args.threads} thread(s), "
        f"cap {args.max_seconds:g} s each ({load_average()} at the end); load at the start: "
        f"{start_load}"
    )
    headers = ["net", f"reached {args.target:.0%} after", "best accuracy", "at", "images"]
    print_table(headers, [r.row() for r in results])
    for r in results:  # the accuracy curve, thinned to at most 25 points
        step = max(1, len(r.points) // 25)
        trail = ", ".join(f"{s:.0f}s {a:.1%}" for s, _, a in r.points[::step])
        print(f"\n{r.name}: {trail}")


if __name__ == "__main__":
    main()
