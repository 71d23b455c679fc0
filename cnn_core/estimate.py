"""How long a training run will take on this machine, for the sidebar's estimate."""

from __future__ import annotations

import functools
import math
import time

import torch

from .model import CNN, ModelConfig
from .train import train_step


class _AdamUpdate:
    """Adam's update (torch.optim.Adam's defaults on the CPU: one parameter at a time) in plain
    tensor operations, for timing only. A torch.optim optimizer imports torch._dynamo when it
    is made and at every step, about 40 MB of the server's memory that nothing else there
    needs: training runs in a worker process (cnn_core/job_worker.py)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        b1, b2 = self.betas
        self.steps += 1
        correction1, correction2 = 1 - b1**self.steps, 1 - b2**self.steps  # bias corrections
        with torch.no_grad():
            for p, (m, v) in zip(self.params, self.moments, strict=True):
                m.lerp_(p.grad, 1 - b1)  # first moment
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)  # second moment
                denom = (v.sqrt() / math.sqrt(correction2)).add_(self.eps)
                p.addcdiv_(m, denom, value=-self.lr / correction1)


@functools.lru_cache(maxsize=64)
def _seconds_per_image(model_config: ModelConfig, batch_size: int) -> tuple[float, float]:
    """(training, evaluation) seconds per image of this architecture, timed on this machine
    over three steps of random data after one warm-up step."""
    model = CNN(model_config, seed=0)
    optimizer = _AdamUpdate(model.parameters())  # the sidebar's default optimizer
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
