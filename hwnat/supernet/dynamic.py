"""Elastic layers of the OFA super-network: weights stored once at maximum size, sliced per active subnet.

Module and parameter names follow OFA's dynamic layers so that OFA checkpoints load strictly.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from hwnat.models.config import se_mid_channels
from hwnat.models.layers import make_act
from hwnat.space.spec import make_divisible


def centre_slice(big: int, small: int) -> slice:
    start = (big - small) // 2
    return slice(start, start + small)


class DynamicConv2d(nn.Module):
    """1×1 convolution whose input and output channels are the leading slices of the full weight."""

    def __init__(self, max_in: int, max_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(max_in, max_out, 1, stride, bias=False)

    def active_weight(self, cin: int, cout: int) -> torch.Tensor:
        return self.conv.weight[:cout, :cin]

    def forward(self, x: torch.Tensor, cout: int) -> torch.Tensor:
        return F.conv2d(x, self.active_weight(x.size(1), cout), None, self.conv.stride)


class DynamicSeparableConv2d(nn.Module):
    """Depthwise conv with an elastic kernel: the largest kernel is stored once; a smaller one takes the centre
    and passes it through learned kernel-transformation matrices (7→5, then 5→3), initialised to identity."""

    def __init__(self, max_channels: int, kernel_sizes: tuple[int, ...], stride: int = 1) -> None:
        super().__init__()
        self.kernel_sizes = tuple(sorted(kernel_sizes))
        k_max = self.kernel_sizes[-1]
        self.conv = nn.Conv2d(max_channels, max_channels, k_max, stride, k_max // 2, groups=max_channels,
                              bias=False)
        for big, small in zip(self.kernel_sizes[:0:-1], self.kernel_sizes[-2::-1]):
            self.register_parameter(self.matrix_name(big, small), nn.Parameter(torch.eye(small * small)))

    @staticmethod
    def matrix_name(big: int, small: int) -> str:
        return f"{big}to{small}_matrix"

    def active_filter(self, channels: int, kernel: int) -> torch.Tensor:
        weight = self.conv.weight[:channels]
        current = self.kernel_sizes[-1]
        for small in reversed(self.kernel_sizes):
            if small >= current:
                continue
            if small < kernel:
                break
            centre = centre_slice(current, small)
            sub = weight[:, :, centre, centre].reshape(channels, small * small)
            weight = F.linear(sub, getattr(self, self.matrix_name(current, small))).reshape(channels, 1, small, small)
            current = small
        return weight

    def forward(self, x: torch.Tensor, kernel: int) -> torch.Tensor:
        channels = x.size(1)
        return F.conv2d(x, self.active_filter(channels, kernel), None, self.conv.stride, kernel // 2, 1, channels)


class DynamicBatchNorm2d(nn.Module):
    """BatchNorm over the leading channels; statistics of the active slice are updated in place."""

    def __init__(self, max_channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(max_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn, c = self.bn, x.size(1)
        momentum = 0.0 if bn.momentum is None else bn.momentum
        if self.training and bn.track_running_stats:
            bn.num_batches_tracked.add_(1)
            if bn.momentum is None:
                momentum = 1.0 / float(bn.num_batches_tracked)
        use_batch_stats = self.training or not bn.track_running_stats
        return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                            use_batch_stats, momentum, bn.eps)


class DynamicSE(nn.Module):
    """Squeeze-and-excitation whose reduced width follows the active channel count (OFA's DynamicSE)."""

    def __init__(self, max_channels: int) -> None:
        super().__init__()
        mid = se_mid_channels(max_channels)
        self.fc = nn.Sequential(OrderedDict(
            reduce=nn.Conv2d(max_channels, mid, 1, bias=True),
            relu=nn.ReLU(inplace=True),
            expand=nn.Conv2d(mid, max_channels, 1, bias=True),
            h_sigmoid=nn.Hardsigmoid(),
        ))

    def active_params(self, channels: int) -> tuple[torch.Tensor, ...]:
        mid = se_mid_channels(channels)
        reduce, expand = self.fc.reduce, self.fc.expand
        return (reduce.weight[:mid, :channels], reduce.bias[:mid],
                expand.weight[:channels, :mid], expand.bias[:channels])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rw, rb, ew, eb = self.active_params(x.size(1))
        y = F.relu(F.conv2d(x.mean((2, 3), keepdim=True), rw, rb))
        return x * F.hardsigmoid(F.conv2d(y, ew, eb))


class _Container(nn.Module):
    """A plain holder of named children (keeps OFA's nesting, e.g. `depth_conv.conv.conv.weight`)."""

    def __init__(self, **children: nn.Module | None) -> None:
        super().__init__()
        for name, child in children.items():
            setattr(self, name, child)


class DynamicMBConv(nn.Module):
    """MBConv with elastic kernel and expand ratio; input and output widths are fixed per position."""

    def __init__(self, cin: int, cout: int, stride: int, act: str, se: bool,
                 kernel_sizes: tuple[int, ...], expand_ratios: tuple[int, ...]) -> None:
        super().__init__()
        self.cin, self.cout, self.stride, self.act_name, self.use_se = cin, cout, stride, act, se
        self.kernel_sizes, self.expand_ratios = tuple(sorted(kernel_sizes)), tuple(sorted(expand_ratios))
        max_mid = self.mid_channels(self.expand_ratios[-1])
        self.inverted_bottleneck = _Container(conv=DynamicConv2d(cin, max_mid), bn=DynamicBatchNorm2d(max_mid),
                                              act=make_act(act))
        self.depth_conv = _Container(
            conv=DynamicSeparableConv2d(max_mid, self.kernel_sizes, stride), bn=DynamicBatchNorm2d(max_mid),
            act=make_act(act), se=DynamicSE(max_mid) if se else None,
        )
        self.point_linear = _Container(conv=DynamicConv2d(max_mid, cout), bn=DynamicBatchNorm2d(cout))
        self.active_kernel = self.kernel_sizes[-1]
        self.active_expand = self.expand_ratios[-1]

    def mid_channels(self, expand_ratio: int) -> int:
        return make_divisible(round(self.cin * expand_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid = self.mid_channels(self.active_expand)
        ib, dw, pl = self.inverted_bottleneck, self.depth_conv, self.point_linear
        x = ib.act(ib.bn(ib.conv(x, mid)))
        x = dw.act(dw.bn(dw.conv(x, self.active_kernel)))
        if dw.se is not None:
            x = dw.se(x)
        return pl.bn(pl.conv(x, self.cout))

    @torch.no_grad()
    def sort_channels(self, expand_stage: int = 0) -> None:
        """Re-sort middle channels by L1 importance of the projection weights (OFA's
        re_organize_middle_weights); with `expand_stage` > 0 the channels of each narrower expand width stay
        inside it, so smaller subnets keep their most important channels."""
        importance = self.point_linear.conv.conv.weight.abs().sum(dim=(0, 2, 3))
        if expand_stage > 0:
            widths = [self.mid_channels(e) for e in sorted(self.expand_ratios, reverse=True)]
            right, base = len(importance), -len(widths) * 1e5
            for left in widths[: expand_stage + 1]:
                importance[left:right] += base
                base += 1e5
                right = left
        order = torch.sort(importance, descending=True).indices
        pl, dw, ib = self.point_linear, self.depth_conv, self.inverted_bottleneck
        pl.conv.conv.weight.copy_(pl.conv.conv.weight.index_select(1, order))
        _permute_bn(dw.bn.bn, order)
        dw.conv.conv.weight.copy_(dw.conv.conv.weight.index_select(0, order))
        if dw.se is not None:
            reduce, expand = dw.se.fc.reduce, dw.se.fc.expand
            expand.weight.copy_(expand.weight.index_select(0, order))
            expand.bias.copy_(expand.bias.index_select(0, order))
            reduce.weight.copy_(reduce.weight.index_select(1, order))
            se_order = torch.sort(expand.weight.abs().sum(dim=(0, 2, 3)), descending=True).indices
            expand.weight.copy_(expand.weight.index_select(1, se_order))
            reduce.weight.copy_(reduce.weight.index_select(0, se_order))
            reduce.bias.copy_(reduce.bias.index_select(0, se_order))
        _permute_bn(ib.bn.bn, order)
        ib.conv.conv.weight.copy_(ib.conv.conv.weight.index_select(0, order))


def _permute_bn(bn: nn.BatchNorm2d, order: torch.Tensor) -> None:
    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
        t.data.copy_(t.data.index_select(0, order))
