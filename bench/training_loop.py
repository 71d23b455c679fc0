"""Throughput of the sidebar's training loop against a bare PyTorch loop, per thread count.

Both loops train the default ModelConfig with Adam (lr 0.001), batch 64, no augmentation, on
the bundled digits' 4,000 training images, from the same initial weights:

- sidebar: ``cnn_core.train.train`` consumed as the sidebar consumes it (TrainConfig with
  report_every=5, every event read). Two figures: "training" is the generator's own
  images_per_second at each epoch's last batch (optimizer steps only, median over epochs);
  "whole run" is all training images / the wall time of the whole loop, which also counts the
  held-out evaluation and the rollback copy made every epoch.
- bare: a float32 tensor of all images made once; per epoch a randperm; per batch zero_grad,
  forward, cross_entropy, backward, step. Nothing else.

Each thread count runs in its own process (torch's thread pool is set per process) and the two
loops alternate --repeats times inside it; medians are reported.

    python bench/training_loop.py --threads 1 2 --epochs 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from common import ROOT, load_average, print_table

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import torch
threads, epochs, repeats = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
import torch.nn.functional as F
from cnn_core import CNN, ModelConfig
from cnn_core.data import load_bundled
from cnn_core.train import BatchEvent, TrainConfig, train

split = load_bundled()

def sidebar():
    config = TrainConfig(epochs=epochs, batch_size=64, augment=False, report_every=5)
    model, rates, images = CNN(ModelConfig(), seed=0), [], 0
    start = time.perf_counter()
    for event in train(model, split, config):  # every event read, as the sidebar does
        if isinstance(event, BatchEvent):
            images = event.images_seen
            if event.batch == event.num_batches:
                rates.append(event.images_per_second)
    return statistics.median(rates), images / (time.perf_counter() - start)

def bare():
    model = CNN(ModelConfig(), seed=0)
    model.train()
    x = torch.from_numpy(split.train.as_float()).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(split.train.labels.astype("int64"))  # (N,)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = order[i : i + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return epochs * len(x) / (time.perf_counter() - start)

import statistics
out = {"sidebar_train": [], "sidebar_run": [], "bare": []}
for _ in range(repeats):
    s_train, s_run = sidebar()
    out["sidebar_train"].append(s_train)
    out["sidebar_run"].append(s_run)
    out["bare"].append(bare())
print(json.dumps(out))
"""


def measure(threads: int, epochs: int, repeats: int) -> dict[str, float]:
    args = [str(ROOT), str(threads), str(epochs), str(repeats)]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True
    ).stdout
    return {k: statistics.median(v) for k, v in json.loads(out.splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="(1 2)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per loop (2)")
    parser.add_argument("--repeats", type=int, default=3, help="alternations per count (3)")
    args = parser.parse_args()
    rows = []
    started = time.perf_counter()
    for threads in args.threads:
        m = measure(threads, args.epochs, args.repeats)
        rows.append(
            [
                threads,
                f"{m['bare']:,.0f}",
                f"{m['sidebar_train']:,.0f}",
                f"{m['sidebar_train'] / m['bare']:.2f}",
                f"{m['sidebar_run']:,.0f}",
                f"{m['sidebar_run'] / m['bare']:.2f}",
            ]
        )
    print(
        f"Training throughput, images/s, median of {args.repeats} "
        f"({load_average()} at the end, {time.perf_counter() - started:.0f} s)"
    )
    headers = ["threads", "bare loop", "sidebar: training", "ratio", "sidebar: whole run", "ratio"]
    print_table(headers, rows)


if __name__ == "__main__":
    main()
