"""Count MACs and params of any torch module with forward hooks on its convolutions and linear layers."""

from __future__ import annotations

import math

import torch
from torch import nn

from hwnat.complexity.counts import Complexity


def _conv_macs(module: nn.Conv2d, output: torch.Tensor) -> int:
    kh, kw = module.kernel_size
    per_output = (module.in_channels // module.groups) * kh * kw
    return math.prod(output.shape[1:]) * per_output


def _linear_macs(module: nn.Linear, output: torch.Tensor) -> int:
    return math.prod(output.shape[1:]) * module.in_features


def count_module(model: nn.Module, input_size: tuple[int, int, int, int]) -> Complexity:
    """MACs per image of one eval-mode forward pass on zeros of `input_size` (on the model's device and
    dtype); params = every parameter's element count. The model's train/eval mode is restored."""
    total = [0]

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        total[0] += _conv_macs(module, output) if isinstance(module, nn.Conv2d) else _linear_macs(module, output)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    first = next(model.parameters(), None)
    x = torch.zeros(input_size, device=first.device if first is not None else None,
                    dtype=first.dtype if first is not None else None)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return Complexity(total[0], sum(p.numel() for p in model.parameters()))
