"""Optimisers, the learning-rate schedule and the L2 penalty, with the original's settings.

- ``adam``: TensorFlow 1's ``AdamOptimizer`` defaults (beta1 0.9, beta2 0.999, epsilon
  1e-8), the same as ``torch.optim.Adam``'s.
- ``momentum``: ``MomentumOptimizer(lr, 0.9)``, the same update as ``torch.optim.SGD``
  with momentum 0.9 (no dampening, no Nesterov).
- ``rmsprop``: ``RMSPropOptimizer(lr, decay=0.9, momentum=0.9, epsilon=1.0)``. Written
  here (:class:`TFRMSprop`) because ``torch.optim.RMSprop`` differs where it matters with
  epsilon 1.0: it adds epsilon outside the square root and starts the mean square at 0,
  where TensorFlow uses ``sqrt(ms + epsilon)`` and starts it at 1.

The schedule is a plain function of the step: ``lr_at(step) = learning_rate *
decay_factor ** (step // decay_steps)`` (TensorFlow's staircase ``exponential_decay``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import overload

import torch
from torch import Tensor, nn

from timecontrast.errors import ConfigError

ADAM_EPSILON = 1e-8  # TF1 AdamOptimizer default
MOMENTUM = 0.9
RMSPROP_DECAY = 0.9
RMSPROP_MOMENTUM = 0.9
RMSPROP_EPSILON = 1.0


def lr_at(step: int, learning_rate: float, decay_steps: int, decay_factor: float) -> float:
    """The learning rate of update ``step`` (0-based): staircase exponential decay."""
    if decay_steps < 1:
        raise ConfigError(f"learning.decay_steps is {decay_steps}; it must be at least 1")
    return learning_rate * decay_factor ** (step // decay_steps)


class TFRMSprop(torch.optim.Optimizer):
    """RMSProp exactly as TensorFlow 1's ``RMSPropOptimizer`` (non-centred).

    ``ms = decay * ms + (1 - decay) * g^2`` (ms starts at 1);
    ``mom = momentum * mom + lr * g / sqrt(ms + epsilon)``; ``param -= mom``.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter] | Iterable[dict],
        lr: float,
        decay: float = RMSPROP_DECAY,
        momentum: float = RMSPROP_MOMENTUM,
        epsilon: float = RMSPROP_EPSILON,
    ) -> None:
        super().__init__(params, {"lr": lr, "decay": decay, "momentum": momentum, "epsilon": epsilon})

    # The overloads of torch.optim.Optimizer.step: a closure's loss comes back, else None.
    @overload
    def step(self, closure: None = None) -> None: ...
    @overload
    def step(self, closure: Callable[[], float]) -> float: ...
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["ms"] = torch.ones_like(p, memory_format=torch.preserve_format)
                    state["mom"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                ms, mom, g = state["ms"], state["mom"], p.grad
                ms.mul_(group["decay"]).addcmul_(g, g, value=1.0 - group["decay"])
                mom.mul_(group["momentum"]).addcdiv_(g, (ms + group["epsilon"]).sqrt_(), value=group["lr"])
                p.sub_(mom)
        return loss


def _adam(params, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=ADAM_EPSILON)


def _momentum(params, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)


def _rmsprop(params, lr: float) -> torch.optim.Optimizer:
    return TFRMSprop(params, lr=lr)


# learning.optimizer -> builder (params, lr) -> optimiser
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": _adam,
    "momentum": _momentum,
    "rmsprop": _rmsprop,
}


def build_optimizer(name: str, params: Iterable[nn.Parameter], learning_rate: float) -> torch.optim.Optimizer:
    """The optimiser ``learning.optimizer`` names, over the trainable ``params``."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"learning.optimizer is '{name}'; choose one of: {', '.join(OPTIMIZERS)}")
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters; check the embedder's finetune settings")
    return OPTIMIZERS[name](params, learning_rate)


def set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = learning_rate


def l2_penalty(params: Iterable[nn.Parameter]) -> Tensor:
    """``sum(|w|^2) / 2`` over ``params`` (TensorFlow's ``l2_loss``); multiply by the weight."""
    terms = [p.float().pow(2).sum() for p in params]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum() / 2
