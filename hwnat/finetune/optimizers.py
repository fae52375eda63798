"""The optimiser registry: NATv2 fine-tunes single-exit subnets with SGD and early-exit ones with AdamW."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwnat.errors import ConfigError, unknown_name

if TYPE_CHECKING:
    import torch
    from torch import nn

    from hwnat.finetune.config import FinetuneConfig

AUTO = "auto"
Builder = Callable[[list[dict[str, Any]], "FinetuneConfig"], "torch.optim.Optimizer"]


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    build: Builder
    description: str


OPTIMIZERS: dict[str, OptimizerSpec] = {}


def register_optimizer(name: str, description: str) -> Callable[[Builder], Builder]:
    """Register `build(param_groups, config) -> torch.optim.Optimizer` under `name`."""
    def wrap(build: Builder) -> Builder:
        if name in OPTIMIZERS or name == AUTO:
            raise ConfigError(f"optimizer {name!r} is already registered")
        OPTIMIZERS[name] = OptimizerSpec(name, build, description)
        return build
    return wrap


def optimizer_names() -> list[str]:
    return list(OPTIMIZERS)


@register_optimizer("sgd", "SGD with momentum (NATv2's choice for single-exit subnets)")
def _sgd(groups: list[dict[str, Any]], cfg: FinetuneConfig) -> torch.optim.Optimizer:
    import torch

    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)


@register_optimizer("adamw", "AdamW (NATv2's choice for early-exit subnets)")
def _adamw(groups: list[dict[str, Any]], cfg: FinetuneConfig) -> torch.optim.Optimizer:
    import torch

    return torch.optim.AdamW(groups, lr=cfg.lr)


def default_optimizer(early_exit: bool) -> str:
    """NATv2's rule: AdamW for subnets of an early-exit super-network, SGD for single-exit ones."""
    return "adamw" if early_exit else "sgd"


def resolve_optimizer(name: str, early_exit: bool) -> str:
    """`name` checked against the registry; "auto" becomes NATv2's choice for the subnet."""
    if name == AUTO:
        return default_optimizer(early_exit)
    if name not in OPTIMIZERS:
        raise ConfigError(unknown_name("optimizer", name, [AUTO, *OPTIMIZERS]))
    return name


def create_optimizer(name: str, model: nn.Module, cfg: FinetuneConfig) -> torch.optim.Optimizer:
    """The registered optimiser over `model`'s trainable parameters; no weight decay on batch-norm and biases."""
    from hwnat.training.optim import param_groups

    if name not in OPTIMIZERS:
        raise ConfigError(unknown_name("optimizer", name, OPTIMIZERS))
    return OPTIMIZERS[name].build(param_groups(model, cfg.weight_decay), cfg)
