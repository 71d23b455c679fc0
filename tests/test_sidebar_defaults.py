"""The first press of Train is a good first experience: the sidebar's default run on the bundled
digits ends at 97% held-out or better (bench/sidebar_defaults.py measures the other data sets
and the time; Fashion-MNIST takes minutes, too long for a test)."""

import pytest
import torch

from cnn_core.data import load_bundled
from cnn_core.model import CNN, ModelConfig
from cnn_core.train import EpochEvent, TrainConfig, train
from ui.sidebar import RUN_DEFAULTS

pytestmark = pytest.mark.timeout(600)


def test_the_default_run_on_the_bundled_digits_reaches_97_percent():
    """The digits' RUN_DEFAULTS with seed 0 (the sidebar's), one torch thread as the app
    trains, reach at least 97% on the 1,000 held-out digits after the last epoch."""
    d = RUN_DEFAULTS["digits"]
    config = TrainConfig(
        optimizer="adam", learning_rate=d["lr"], lr_schedule=d["schedule"], batch_size=d["batch"],
        epochs=d["epochs"], augment=d["augment"], max_images=d["images"], seed=0,
        report_every=10_000,
    )  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        events = list(train(CNN(ModelConfig(), seed=0), load_bundled(), config))
    finally:
        torch.set_num_threads(threads)
    last = [e for e in events if isinstance(e, EpochEvent)][-1]
    assert last.epoch == d["epochs"] and last.test_accuracy >= 0.97, last.test_accuracy
