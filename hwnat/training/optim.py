"""SGD with Nesterov momentum (no weight decay on batch-norm and bias) and a per-step warm-up + cosine schedule."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two groups: weights with decay; batch-norm parameters and biases without (OFA's no_decay_keys bn#bias)."""
    decay, no_decay = [], []
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)
            (no_decay if is_bn or name == "bias" else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, lr: float, momentum: float, nesterov: bool,
                   weight_decay: float) -> torch.optim.SGD:
    return torch.optim.SGD(param_groups(model, weight_decay), lr=lr, momentum=momentum,
                           nesterov=nesterov and momentum > 0)


class WarmupCosine:
    """lr(t) = peak · (t+1)/warmup during `warmup_steps`, then peak · ½(1 + cos(π · progress)), set every step.

    Its state is one integer (`step`), so it round-trips through a `weights_only` checkpoint.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, peak_lr: float, total_steps: int,
                 warmup_steps: int = 0) -> None:
        self.optimizer = optimizer
        self.peak_lr = float(peak_lr)
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, min(int(warmup_steps), self.total_steps))
        self.step_count = 0
        self._apply()

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.peak_lr * (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return 0.5 * self.peak_lr * (1.0 + math.cos(math.pi * progress))

    @property
    def lr(self) -> float:
        return self.lr_at(self.step_count)

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step_count, "peak_lr": self.peak_lr, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = int(state["step"])
        self._apply()
