"""Analytic MACs and params of one subnet, by arithmetic on its NetConfig."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from hwnat.complexity.counts import Complexity
from hwnat.models.config import POOL_KERNEL, BlockConfig, HeadConfig, NetConfig, conv_out, net_config
from hwnat.space.arch import Arch
from hwnat.space.spec import BRANCH_POINTWISE, BRANCH_POOL, SearchSpace

Size = TypeVar("Size", int, np.ndarray)

BN_PARAMS_PER_CHANNEL = 2


def conv_bn(size_out: Size, cin: int, cout: int, kernel: int = 1, groups: int = 1,
            bn: bool = True) -> tuple[Size, int]:
    """(MACs, params) of a bias-free convolution (+ BN) whose output is size_out × size_out."""
    weights = cout * (cin // groups) * kernel * kernel
    return size_out * size_out * weights, weights + (BN_PARAMS_PER_CHANNEL * cout if bn else 0)


def stem_cost(config: NetConfig, size: Size) -> tuple[Size, int]:
    """(MACs, params) of the first convolution on a size × size input."""
    out = conv_out(size, 3, config.stem_stride)
    return conv_bn(out, config.in_channels, config.stem_out, 3)


def block_out(block: BlockConfig, size: Size) -> Size:
    return conv_out(size, block.kernel, block.stride)


def block_cost(block: BlockConfig, size: Size) -> tuple[Size, int]:
    """(MACs, params) of one MBConv layer and its parallel branches on a size × size input."""
    out = block_out(block, size)
    parts = [
        conv_bn(out, block.mid, block.mid, block.kernel, groups=block.mid),
        conv_bn(out, block.mid, block.cout),
    ]
    if block.expand:
        parts.append(conv_bn(size, block.cin, block.mid))
    if block.se:
        parts.append((2 * block.mid * block.se_mid, 2 * block.mid * block.se_mid + block.se_mid + block.mid))
    if block.branches & BRANCH_POINTWISE:
        parts.append(conv_bn(conv_out(size, 1, block.stride), block.cin, block.cout))
    if block.branches & BRANCH_POOL:
        parts.append(conv_bn(conv_out(size, POOL_KERNEL, block.stride), block.cin, block.cout))
    return sum(m for m, _ in parts), sum(p for _, p in parts)


def head_cost(head: HeadConfig, size: Size) -> tuple[Size, int]:
    """(MACs, params) of final expand (on size × size features), feature mix and classifier."""
    expand_macs, expand_params = conv_bn(size, head.cin, head.expand)
    mix = head.expand * head.mix
    linear = head.mix * head.num_classes
    return expand_macs + mix + linear, expand_params + mix + linear + head.num_classes


def net_cost(config: NetConfig) -> Complexity:
    size = conv_out(config.resolution, 3, config.stem_stride)
    macs, params = stem_cost(config, config.resolution)
    for block in config.blocks:
        block_macs, block_params = block_cost(block, size)
        macs, params, size = macs + block_macs, params + block_params, block_out(block, size)
    head_macs, head_params = head_cost(config.head, size)
    return Complexity(int(macs + head_macs), int(params + head_params))


def complexity(space: SearchSpace, arch: Arch) -> Complexity:
    """MACs and params of `arch`, with the convention of `hwnat.complexity`."""
    return net_cost(net_config(space, arch))
