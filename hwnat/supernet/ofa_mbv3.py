"""OFAMobileNetV3: the OFAv2 elastic MobileNetV3 super-network (early exits, dense skips, parallel blocks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from hwnat.errors import SpaceError
from hwnat.models.config import BlockConfig, HeadConfig
from hwnat.models.init import init_weights
from hwnat.models.layers import Block, ConvLayer, Head, PoolBranch, head_forward
from hwnat.models.mobilenetv3 import dense_stage
from hwnat.space.arch import Arch, max_arch
from hwnat.space.sampling import sample_arch
from hwnat.space.spec import BRANCH_POINTWISE, BRANCH_POOL, SearchSpace
from hwnat.supernet.dynamic import DynamicMBConv


class DynamicBlock(nn.Module):
    """One elastic layer position: a DynamicMBConv, the identity shortcut and the parallel branches."""

    def __init__(self, space: SearchSpace, cin: int, cout: int, stride: int, act: str, se: bool) -> None:
        super().__init__()
        self.conv = DynamicMBConv(cin, cout, stride, act, se, space.kernel_sizes, space.expand_ratios)
        parallel = space.variant.parallel
        self.pointwise = ConvLayer(cin, cout, 1, stride) if parallel else None
        self.pool_branch = PoolBranch(cin, cout, stride) if parallel else None
        self.residual = stride == 1 and cin == cout
        self.active_branches = space.branch_masks[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.pointwise is not None and self.active_branches & BRANCH_POINTWISE:
            out = out + self.pointwise(x)
        if self.pool_branch is not None and self.active_branches & BRANCH_POOL:
            out = out + self.pool_branch(x)
        return out + x if self.residual else out


class OFAMobileNetV3(nn.Module):
    """The super-network of a search space at one width multiplier.

    The active subnet is module state (as in OFA), but set it with `with net.active(arch): ...`, which
    restores the previous configuration on exit. `extract(net, arch)` returns a static copy.
    """

    def __init__(self, space: SearchSpace, width_mult: float | None = None, num_classes: int | None = None) -> None:
        super().__init__()
        if num_classes is not None:
            space = space.with_classes(num_classes)
        self.space = space
        self.width_mult = space.check_width(space.width_mults[0] if width_mult is None else width_mult)
        widths = space.widths(self.width_mult)
        stem, first = widths["stem"], widths["first_block"]
        self.first_conv = ConvLayer(3, stem, 3, space.stem_stride, act=space.stem_act)
        blocks: list[nn.Module] = [
            Block(BlockConfig(stem, first, 3, 1, stem, space.first_block_act, False, False, stem == first))
        ]
        cin = first
        for spec, cout in zip(space.stages, widths["stages"]):
            for j in range(space.max_depth):
                blocks.append(DynamicBlock(space, cin, cout, spec.stride if j == 0 else 1, spec.act, spec.se))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        head_widths = space.exit_widths(self.width_mult)
        main = Head(HeadConfig(cin, *head_widths[-1], space.num_classes, space.head_act, space.dropout))
        self.final_expand_layer = main.final_expand_layer
        self.feature_mix_layer = main.feature_mix_layer
        self.classifier = main.classifier
        self.exits = nn.ModuleList(
            Head(HeadConfig(c, *hw, space.num_classes, space.head_act, space.dropout))
            for c, hw in zip(widths["stages"][:-1], head_widths[:-1])
        ) if space.variant.early_exit else None
        init_weights(self)
        self._active = max_arch(space, self.width_mult)
        self.set_active_subnet(self._active)

    # -- active configuration -----------------------------------------------------------------------
    def stage_blocks(self, stage: int) -> list[DynamicBlock]:
        d = self.space.max_depth
        return list(self.blocks[1 + stage * d : 1 + (stage + 1) * d])  # type: ignore[arg-type]

    @property
    def active_arch(self) -> Arch:
        return self._active

    def set_active_subnet(self, arch: Arch) -> None:
        arch = arch.validate(self.space)
        if float(arch.width_mult) != self.width_mult:
            raise SpaceError(f"arch width multiplier {arch.width_mult} does not match this super-network's "
                             f"{self.width_mult}; build or load the w{arch.width_mult} super-network")
        for s in range(self.space.num_stages):
            for j, block in enumerate(self.stage_blocks(s)):
                if j < len(arch.kernels[s]):
                    block.conv.active_kernel = arch.kernels[s][j]
                    block.conv.active_expand = arch.expands[s][j]
                block.active_branches = arch.branches
        self._active = arch

    @contextmanager
    def active(self, arch: Arch) -> Iterator[OFAMobileNetV3]:
        previous = self._active
        self.set_active_subnet(arch)
        try:
            yield self
        finally:
            self.set_active_subnet(previous)

    def sample_active_subnet(self, rng: np.random.Generator) -> Arch:
        arch = sample_arch(self.space, rng, self.width_mult)
        self.set_active_subnet(arch)
        return arch

    def get_active_subnet(self, preserve_weight: bool = True) -> nn.Module:
        from hwnat.models.mobilenetv3 import build_static
        from hwnat.supernet.extract import extract

        return extract(self, self._active) if preserve_weight else build_static(self.space, self._active)

    def sort_channels(self, expand_stage: int = 0) -> None:
        """Re-sort every elastic layer's middle channels by importance (before each expand phase)."""
        for block in self.blocks[1:]:
            block.conv.sort_channels(expand_stage)

    # -- forward -------------------------------------------------------------------------------------
    def _stage(self, s: int, x: torch.Tensor) -> torch.Tensor:
        layers = self.stage_blocks(s)[: len(self._active.kernels[s])]
        if self.space.variant.dense:
            return dense_stage(layers, x)
        for layer in layers:
            x = layer(x)
        return x

    def _head(self, stage: int) -> nn.Module:
        return self if stage == self.space.num_stages or self.exits is None else self.exits[stage - 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stop = self._active.exit_stage(self.space)
        x = self.blocks[0](self.first_conv(x))
        for s in range(stop):
            x = self._stage(s, x)
        return head_forward(self._head(stop), x)

    def forward_exits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every exit (1..num_stages) of the active subnet's layers, ignoring its exit choice."""
        x = self.blocks[0](self.first_conv(x))
        logits = []
        for s in range(self.space.num_stages):
            x = self._stage(s, x)
            if self.exits is not None or s == self.space.num_stages - 1:
                logits.append(head_forward(self._head(s + 1), x))
        return logits

