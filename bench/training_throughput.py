"""Training throughput of cnn_core.train (images/s) for 1 and 2 torch threads.

Not a test: figures depend on the machine and its load. Each thread count runs in its own
process (torch's thread pool is set once per process). Usage:

    python bench/training_throughput.py            # prints a table, median of the epochs

bench/training_loop.py compares this loop with a bare PyTorch loop.
"""

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 3

CHILD = f"""
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
sys.path.insert(0, {str(ROOT)!r})
from cnn_core import CNN, ModelConfig
from cnn_core.data import load_bundled
from cnn_core.train import BatchEvent, TrainConfig, train
cfg = TrainConfig(epochs={EPOCHS}, batch_size=64, augment=sys.argv[2] == "1", report_every=10_000)
events = train(CNN(ModelConfig(), seed=0), load_bundled(), cfg)
print(" ".join(str(e.images_per_second) for e in events if isinstance(e, BatchEvent)))
"""


def measure(threads: int, augment: bool) -> float:
    """Median over epochs of the images/s reported at each epoch's last batch."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads), str(int(augment))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return statistics.median(float(v) for v in out.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    print("| threads | augmentation | images/s (median of epochs) |")
    print("| --- | --- | --- |")
    for augment in (False, True):
        for threads in (1, 2):
            print(
                f"| {threads} | {'on' if augment else 'off'} | {measure(threads, augment):,.0f} |"
            )


if __name__ == "__main__":
    main()
