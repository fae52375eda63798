"""The static MobileNetV3 built from a NetConfig: what extraction returns and what gets exported."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from hwnat.models.config import NetConfig, net_config
from hwnat.models.layers import Block, ConvLayer, Head, head_forward
from hwnat.space.arch import Arch
from hwnat.space.spec import SearchSpace


class MobileNetV3(nn.Module):
    """A plain network with no elastic code. Dense stages feed each layer the sum of earlier layer outputs.

    The head's modules sit at the top level (`final_expand_layer`, `feature_mix_layer`, `classifier`), so a
    single-exit OFA subnet's state dict loads with OFA's own keys.
    """

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        self.first_conv = ConvLayer(config.in_channels, config.stem_out, 3, config.stem_stride, act=config.stem_act)
        self.blocks = nn.ModuleList(Block(b) for b in config.blocks)
        head = Head(config.head)
        self.final_expand_layer = head.final_expand_layer
        self.feature_mix_layer = head.feature_mix_layer
        self.classifier = head.classifier
        self.stage_ranges = config.stage_ranges
        self.dense = config.dense

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](self.first_conv(x))
        for start, end in self.stage_ranges:
            layers = self.blocks[start:end]
            if self.dense:
                x = dense_stage(layers, x)
            else:
                for layer in layers:
                    x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return head_forward(self, self.forward_features(x))


def dense_stage(layers: Iterable[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """OFAv2 dense skips: layer j ≥ 2 takes the sum of every earlier output of the stage; so does the output."""
    total: torch.Tensor | None = None
    for layer in layers:
        out = layer(x if total is None else total)
        total = out if total is None else total + out
    assert total is not None
    return total


def build_static(space: SearchSpace, arch: Arch) -> MobileNetV3:
    """A freshly initialised static network for `arch` (for latency studies and training from scratch)."""
    from hwnat.models.init import init_weights

    model = MobileNetV3(net_config(space, arch))
    init_weights(model)
    return model
