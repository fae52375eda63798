"""Batch-norm recalibration: recompute running statistics of a (sub)network on a few training batches."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor | tuple[torch.Tensor, ...]],
                   max_batches: int | None = None) -> int:
    """Reset every BatchNorm's statistics and re-estimate them as an exact average over the batches.

    Without this, subnets taken from a super-network score near chance. Run it on an extracted subnet (the
    super-network's shared statistics would be overwritten for the active slice only). Returns the number
    of batches used; the model's training mode is restored afterwards.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    was_training = model.training
    model.train()
    used = 0
    try:
        for batch in batches:
            if max_batches is not None and used >= max_batches:
                break
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x)
            used += 1
    finally:
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum
        model.train(was_training)
    return used
