"""How long a training run will take on this machine, for the sidebar's estimate."""

from __future__ import annotations

import functools
import time

import torch

from .model import CNN, ModelConfig
from .train import TrainConfig, make_optimizer, train_step


@functools.lru_cache(maxsize=64)
def _seconds_per_image(model_config: ModelConfig, batch_size: int) -> tuple[float, float]:
    """(training, evaluation) seconds per image of this architecture, timed on this machine
    over three steps of random data after one warm-up step."""
    model = CNN(model_config, seed=0)
    optimizer = make_optimizer(model, TrainConfig(batch_size=batch_size))
    g = torch.Generator().manual_seed(0)
    size, channels = model_config.input_size, model_config.in_channels
    x = torch.rand(batch_size, channels, size, size, generator=g)  # (B, C, H, W)
    y = torch.randint(0, model_config.num_classes, (batch_size,), generator=g)
    train_step(model, optimizer, x, y)  # warm-up: first-call allocations
    started = time.perf_counter()
    for _ in range(3):
        train_step(model, optimizer, x, y)
    train_spi = (time.perf_counter() - started) / (3 * batch_size)
    model.eval()
    started = time.perf_counter()
    with torch.no_grad():
        model(x)
    return train_spi, (time.perf_counter() - started) / batch_size


def estimate_seconds(request, train_images: int, test_images: int) -> float:
    """About how long ``request`` trains on this machine when it is idle: every epoch's steps
    and held-out evaluation (augmentation adds about a third to a step)."""
    config = request.train_config
    train_spi, eval_spi = _seconds_per_image(request.model_config, config.batch_size)
    images = min(config.max_images or train_images, train_images)
    per_epoch = images * train_spi * (1.33 if config.augment else 1.0) + test_images * eval_spi
    return config.epochs * per_epoch
