"""Seeded perturbation of BN statistics and kernel-transform matrices, so that parity checks can fail."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def perturb_for_parity(net: nn.Module, seed: int) -> nn.Module:
    """Non-trivial BN statistics/affine and non-identity kernel matrices (a fresh net hides slicing bugs)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in net.named_parameters():
        if name.endswith("_matrix"):
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return net
