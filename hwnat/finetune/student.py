"""The network being fine-tuned: the extracted subnet, optionally with the super-network's earlier exits re-attached."""

from __future__ import annotations

import copy

import torch
from torch import nn

from hwnat.models.layers import head_forward
from hwnat.models.mobilenetv3 import MobileNetV3, dense_stage
from hwnat.space.arch import Arch
from hwnat.supernet import OFAMobileNetV3, extract


class JointExits(nn.Module):
    """A static subnet plus exit heads after some of its earlier stages (copied from the super-network).

    `forward` returns every exit's logits, shallowest first, the subnet's own exit last; `exit_stages` names them.
    """

    def __init__(self, net: MobileNetV3, heads: dict[int, nn.Module]) -> None:
        super().__init__()
        self.net = net
        self.heads = nn.ModuleDict({str(s): heads[s] for s in sorted(heads)})
        self.exit_stages = (*sorted(heads), len(net.stage_ranges))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.net
        x = net.blocks[0](net.first_conv(x))
        logits = []
        for s, (start, end) in enumerate(net.stage_ranges, start=1):
            layers = net.blocks[start:end]
            if net.dense:
                x = dense_stage(layers, x)
            else:
                for layer in layers:
                    x = layer(x)
            if str(s) in self.heads:
                logits.append(head_forward(self.heads[str(s)], x))
        logits.append(head_forward(net, x))
        return logits


def build_student(supernet: OFAMobileNetV3, arch: Arch, joint_exits: bool) -> nn.Module:
    """extract(supernet, arch); with `joint_exits`, wrapped with copies of the exit heads of its earlier stages."""
    net = extract(supernet, arch)
    if not joint_exits:
        return net
    assert supernet.exits is not None
    stop = arch.exit_stage(supernet.space)
    return JointExits(net, {s: copy.deepcopy(supernet.exits[s - 1]) for s in range(1, stop)})


def exit_logits(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Every exit's logits of a student (a single-exit one gives a list of one)."""
    out = model(x)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def exit_stages(model: nn.Module, arch_exit: int) -> tuple[int, ...]:
    """The stage of each of exit_logits(model, x), in order."""
    return model.exit_stages if isinstance(model, JointExits) else (arch_exit,)


def subnet_of(model: nn.Module) -> MobileNetV3:
    """The plain subnet inside a student (what model.pt holds)."""
    return model.net if isinstance(model, JointExits) else model  # type: ignore[return-value]
