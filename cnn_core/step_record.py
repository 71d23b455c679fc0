"""One optimizer step in numbers: the StepEvent a training run yields when asked for it
(TrainControl.record_next_step), and the optimizer update read back from the optimizer's state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True, eq=False)  # eq=False: arrays
class StepEvent:
    """The numbers of one optimizer step, asked for with TrainControl.record_next_step.

    Yielded right after that step, before its BatchEvent. Every dict maps a parameter name (as in
    model.state_dict(), e.g. "stages.conv1.weight") to a float32 array of that parameter's shape.
    update[name] is the change the optimizer applied: SGD with momentum -lr * velocity, Adam
    -lr * m_hat / (sqrt(v_hat) + eps) with its bias-corrected moments; before + update = after
    up to float rounding.
    """

    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    images: np.ndarray  # (B, H, W) float32: the batch as the model saw it (after augmentation)
    labels: np.ndarray  # (B,) int64
    loss_before: float  # mean cross-entropy of this batch before the step (eval mode, no dropout)
    loss_after: float  # the same, with the weights after the step
    learning_rate: float  # the learning rate of this step
    optimizer: str  # "adam" or "sgd"
    weights_before: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]  # dL/dw of the batch's mean loss (the step's own backward)
    update: dict[str, np.ndarray]  # from the optimizer's state, see above
    weights_after: dict[str, np.ndarray]


def _parameters(model) -> dict[str, np.ndarray]:
    """A float32 copy of every trainable parameter, by state-dict name."""
    return {n: p.detach().numpy().copy() for n, p in model.named_parameters()}


@torch.no_grad()
def _batch_loss(model, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy of one batch in eval mode (no dropout); the mode is restored."""
    was_training = model.training
    model.eval()
    try:
        return F.cross_entropy(model(x), y).item()
    finally:
        model.train(was_training)


def optimizer_update(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> torch.Tensor:
    """The change the optimizer's last step applied to ``param``, from its state: SGD
    -lr * velocity (the momentum buffer; the gradient itself without momentum), Adam
    -lr * m_hat / (sqrt(v_hat) + eps). Supports this module's two optimizers (no weight decay)."""
    group = next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))
    state = optimizer.state[param]
    if isinstance(optimizer, torch.optim.Adam):
        beta1, beta2 = group["betas"]
        t = float(state["step"])
        m_hat = state["exp_avg"] / (1 - beta1**t)  # bias-corrected first moment
        v_hat = state["exp_avg_sq"] / (1 - beta2**t)  # bias-corrected second moment
        return -group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
    velocity = state.get("momentum_buffer")
    return -group["lr"] * (param.grad if velocity is None else velocity)


@dataclass
class _StepRecorder:
    """What is known of a recorded step before it is taken."""

    x: torch.Tensor  # (B, C, H, W)
    y: torch.Tensor  # (B,)
    before: dict[str, np.ndarray]
    loss_before: float

    @classmethod
    def start(cls, model, x, y) -> _StepRecorder:
        return cls(x, y, _parameters(model), _batch_loss(model, x, y))

    def finish(self, model, optimizer, epoch, batch, lr, name) -> StepEvent:
        """The StepEvent of the step just taken by ``optimizer``."""
        params = dict(model.named_parameters())
        return StepEvent(
            epoch=epoch,
            batch=batch,
            images=self.x[:, 0].numpy().copy(),  # (B, H, W) the first (grey) channel
            labels=self.y.numpy().copy(),
            loss_before=self.loss_before,
            loss_after=_batch_loss(model, self.x, self.y),
            learning_rate=lr,
            optimizer=name,
            weights_before=self.before,
            gradients={n: p.grad.detach().numpy().copy() for n, p in params.items()},
            update={
                n: optimizer_update(optimizer, p).detach().numpy().copy() for n, p in params.items()
            },
            weights_after=_parameters(model),
        )
