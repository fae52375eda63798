"""NetConfig: the concrete layer-by-layer description of one subnet, derived from (space, arch).

It is the single source for the static network, the analytic complexity and the latency-table block keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hwnat.space.arch import Arch
from hwnat.space.spec import SearchSpace

POOL_KERNEL = 3  # the parallel-block pool branch's average-pool window


def conv_out(size: int, kernel: int, stride: int) -> int:
    """Spatial size after a 'same'-padded (kernel // 2) convolution or pooling."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


@dataclass(frozen=True)
class BlockConfig:
    """One MBConv layer (plus parallel branches). `mid == cin and not expand` for the first block (e=1)."""

    cin: int
    cout: int
    kernel: int
    stride: int
    mid: int
    act: str
    se: bool
    expand: bool
    residual: bool
    branches: int = 1
    se_mid: int = 0

    @property
    def key(self) -> str:
        """Stable identifier of the layer's shape, used by latency tables."""
        return (f"mb_i{self.cin}_o{self.cout}_k{self.kernel}_s{self.stride}_m{self.mid}_{self.act}"
                f"{'_se' if self.se else ''}{'' if self.expand else '_noexp'}{'_res' if self.residual else ''}"
                f"_b{self.branches}")


@dataclass(frozen=True)
class HeadConfig:
    cin: int
    expand: int
    mix: int
    num_classes: int
    act: str
    dropout: float


@dataclass(frozen=True)
class NetConfig:
    resolution: int
    stem_out: int
    stem_stride: int
    stem_act: str
    blocks: tuple[BlockConfig, ...]
    stage_ranges: tuple[tuple[int, int], ...]  # [start, end) indices into blocks; blocks[0] is the first block
    dense: bool
    head: HeadConfig
    in_channels: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def se_mid_channels(channels: int) -> int:
    from hwnat.space.spec import make_divisible

    return make_divisible(channels // 4)


def net_config(space: SearchSpace, arch: Arch) -> NetConfig:
    """The subnet `arch` of `space` as concrete layers (stages after the exit are dropped)."""
    arch = arch.validate(space)
    widths = space.widths(arch.width_mult)
    stem, first = widths["stem"], widths["first_block"]
    blocks = [BlockConfig(stem, first, 3, 1, stem, space.first_block_act, False, False, stem == first, 1)]
    ranges = []
    cin = first
    exit_stage = arch.exit_stage(space)
    for s in range(exit_stage):
        spec, cout = space.stages[s], widths["stages"][s]
        start = len(blocks)
        for j, (k, e) in enumerate(zip(arch.kernels[s], arch.expands[s])):
            stride = spec.stride if j == 0 else 1
            mid = space.mid_channels(cin, e)
            blocks.append(BlockConfig(
                cin, cout, k, stride, mid, spec.act, spec.se, True,
                residual=stride == 1 and cin == cout, branches=arch.branches,
                se_mid=se_mid_channels(mid) if spec.se else 0,
            ))
            cin = cout
        ranges.append((start, len(blocks)))
    expand, mix = space.exit_widths(arch.width_mult)[exit_stage - 1]
    head = HeadConfig(cin, expand, mix, space.num_classes, space.head_act, space.dropout)
    return NetConfig(arch.resolution, stem, space.stem_stride, space.stem_act, tuple(blocks), tuple(ranges),
                     space.variant.dense, head)
