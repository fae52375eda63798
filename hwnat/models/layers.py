"""Static layers of the MobileNetV3 family with OFA's module names (so OFA state dicts map one to one)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from hwnat.errors import SpaceError, unknown_name
from hwnat.models.config import POOL_KERNEL, BlockConfig, HeadConfig

ACT_LAYERS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "hswish": nn.Hardswish, "mish": nn.Mish}


def make_act(name: str | None) -> nn.Module:
    if name is None:
        return nn.Identity()
    if name not in ACT_LAYERS:
        raise SpaceError(unknown_name("activation", name, ACT_LAYERS))
    return ACT_LAYERS[name](inplace=True) if name == "relu" else ACT_LAYERS[name]()


class ConvLayer(nn.Module):
    """conv → (BN) → (act), OFA's ConvLayer with `conv` and `bn` children."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: str | None = None, bn: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with a hard sigmoid gate (OFA's SEModule: fc.reduce / fc.expand)."""

    def __init__(self, channels: int, mid: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(OrderedDict(
            reduce=nn.Conv2d(channels, mid, 1, bias=True),
            relu=nn.ReLU(inplace=True),
            expand=nn.Conv2d(mid, channels, 1, bias=True),
            h_sigmoid=nn.Hardsigmoid(),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean((2, 3), keepdim=True))


class MBConv(nn.Module):
    """Inverted bottleneck: 1×1 expand → k×k depthwise (+SE) → 1×1 linear projection."""

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        self.inverted_bottleneck = ConvLayer(cfg.cin, cfg.mid, 1, act=cfg.act) if cfg.expand else None
        dw: OrderedDict[str, nn.Module] = OrderedDict(
            conv=nn.Conv2d(cfg.mid, cfg.mid, cfg.kernel, cfg.stride, cfg.kernel // 2, groups=cfg.mid, bias=False),
            bn=nn.BatchNorm2d(cfg.mid),
            act=make_act(cfg.act),
        )
        if cfg.se:
            dw["se"] = SqueezeExcite(cfg.mid, cfg.se_mid)
        self.depth_conv = nn.Sequential(dw)
        self.point_linear = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(cfg.mid, cfg.cout, 1, bias=False), bn=nn.BatchNorm2d(cfg.cout),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))


class PoolBranch(nn.Module):
    """Parallel-block branch: POOL_KERNEL² average pool (with the layer's stride) → 1×1 conv → BN."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(POOL_KERNEL, stride, POOL_KERNEL // 2, count_include_pad=False)
        self.proj = ConvLayer(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(x))


class Block(nn.Module):
    """OFA's ResidualBlock (`conv`, identity shortcut) plus OFAv2's optional parallel branches."""

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        from hwnat.space.spec import BRANCH_POINTWISE, BRANCH_POOL

        self.conv = MBConv(cfg)
        self.pointwise = ConvLayer(cfg.cin, cfg.cout, 1, cfg.stride) if cfg.branches & BRANCH_POINTWISE else None
        self.pool_branch = PoolBranch(cfg.cin, cfg.cout, cfg.stride) if cfg.branches & BRANCH_POOL else None
        self.residual = cfg.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.pointwise is not None:
            out = out + self.pointwise(x)
        if self.pool_branch is not None:
            out = out + self.pool_branch(x)
        return out + x if self.residual else out


class ClassifierLayer(nn.Module):
    """Dropout → linear (OFA's LinearLayer: `linear`)."""

    def __init__(self, cin: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(x))


class Head(nn.Module):
    """1×1 expand (BN, act) → global pool → 1×1 feature mix (act) → classifier; also an OFAv2 exit head."""

    def __init__(self, cfg: HeadConfig) -> None:
        super().__init__()
        self.final_expand_layer = ConvLayer(cfg.cin, cfg.expand, 1, act=cfg.act)
        self.feature_mix_layer = ConvLayer(cfg.expand, cfg.mix, 1, act=cfg.act, bn=False)
        self.classifier = ClassifierLayer(cfg.mix, cfg.num_classes, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return head_forward(self, x)


def head_forward(head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a module's `final_expand_layer` → pool → `feature_mix_layer` → `classifier` on features."""
    x = head.final_expand_layer(x).mean((2, 3), keepdim=True)
    return head.classifier(torch.flatten(head.feature_mix_layer(x), 1))
