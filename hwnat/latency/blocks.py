"""The unique units (stem, MBConv blocks, dense-skip adds, exit heads) that a space's subnets are made of.

A subnet's latency is estimated as the sum of its units, each measured alone at its own input shape: the
stem conv at the network input, every MBConv `BlockConfig` (parallel branches and residual included) at its
input size, one elementwise add per dense skip (a dense stage of depth d makes d − 1 adds of its output shape)
and the exit head (final expand, pool, feature mix, classifier) at the size of the features it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from hwnat.complexity.positions import probe
from hwnat.errors import SpaceError
from hwnat.models.config import BlockConfig, HeadConfig, NetConfig, conv_out

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

    from hwnat.space.spec import SearchSpace


@dataclass(frozen=True)
class StemConfig:
    """The first convolution (3×3, BN, activation)."""

    cin: int
    cout: int
    stride: int
    act: str


@dataclass(frozen=True)
class AddConfig:
    """One elementwise add of two feature maps with `channels` channels (a dense skip)."""

    channels: int


UnitConfig = StemConfig | BlockConfig | AddConfig | HeadConfig


def _block_key(cfg: BlockConfig) -> str:
    return cfg.key


def _stem_key(cfg: StemConfig) -> str:
    return f"stem_i{cfg.cin}_o{cfg.cout}_k3_s{cfg.stride}_{cfg.act}"


def _add_key(cfg: AddConfig) -> str:
    return f"add_c{cfg.channels}"


def _head_key(cfg: HeadConfig) -> str:
    return f"head_i{cfg.cin}_e{cfg.expand}_m{cfg.mix}_c{cfg.num_classes}_{cfg.act}"


def _build_stem(cfg: StemConfig) -> nn.Module:
    from hwnat.models.layers import ConvLayer

    return ConvLayer(cfg.cin, cfg.cout, 3, cfg.stride, act=cfg.act)


def _build_block(cfg: BlockConfig) -> nn.Module:
    from hwnat.models.layers import Block

    return Block(cfg)


def _build_add(cfg: AddConfig) -> nn.Module:
    from hwnat.latency.modules import DenseAdd

    return DenseAdd()


def _build_head(cfg: HeadConfig) -> nn.Module:
    from hwnat.models.layers import Head

    return Head(cfg)


Shape = tuple[int, ...]


def _stem_out(cfg: StemConfig, shape: Shape) -> Shape:
    b, _, h, w = shape
    return (b, cfg.cout, conv_out(h, 3, cfg.stride), conv_out(w, 3, cfg.stride))


def _block_out(cfg: BlockConfig, shape: Shape) -> Shape:
    b, _, h, w = shape
    return (b, cfg.cout, conv_out(h, cfg.kernel, cfg.stride), conv_out(w, cfg.kernel, cfg.stride))


def _add_out(cfg: AddConfig, shape: Shape) -> Shape:
    return shape


def _head_out(cfg: HeadConfig, shape: Shape) -> Shape:
    return (shape[0], cfg.num_classes)


@dataclass(frozen=True)
class UnitKind:
    """How a kind of unit is named, built as a module, shaped and described in a manifest. `network_input`
    and `network_output`: whether the unit reads the network's input image or writes its logits."""

    config_type: type
    key: Callable[[Any], str]
    build: Callable[[Any], nn.Module]
    output_shape: Callable[[Any, Shape], Shape]
    network_input: bool = False
    network_output: bool = False


UNIT_KINDS: dict[str, UnitKind] = {
    "stem": UnitKind(StemConfig, _stem_key, _build_stem, _stem_out, network_input=True),
    "block": UnitKind(BlockConfig, _block_key, _build_block, _block_out),
    "add": UnitKind(AddConfig, _add_key, _build_add, _add_out),
    "head": UnitKind(HeadConfig, _head_key, _build_head, _head_out, network_output=True),
}


@dataclass(frozen=True)
class Unit:
    """One measurable unit: its kind, its layer configuration and the (batch, C, H, W) input it runs on."""

    kind: str
    config: Any
    input_shape: tuple[int, int, int, int]

    @property
    def key(self) -> str:
        """Stable identifier, e.g. 'mb_i16_o24_k5_s2_m96_relu_se_b1@32x32' (batch is a target setting)."""
        _, _, h, w = self.input_shape
        return f"{UNIT_KINDS[self.kind].key(self.config)}@{h}x{w}"

    @property
    def output_shape(self) -> Shape:
        return UNIT_KINDS[self.kind].output_shape(self.config, self.input_shape)

    def build(self, seed: int = 0) -> nn.Module:
        """A freshly initialised static module (eval mode) for this unit alone."""
        import torch

        from hwnat.models.init import init_weights

        torch.manual_seed(seed)
        module = UNIT_KINDS[self.kind].build(self.config)
        init_weights(module)
        return module.eval()

    def export(self, path: str | Path) -> Path:
        """Write this unit alone to an ONNX file at `path` (fixed input shape) and return the path."""
        from hwnat.backends.onnx_export import export_onnx

        return export_onnx(self.build(), self.input_shape, path)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (for manifests): key, kind, input shape and the layer configuration."""
        return {"key": self.key, "kind": self.kind, "input_shape": list(self.input_shape),
                "config": asdict(self.config)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Unit:
        kind = d["kind"]
        if kind not in UNIT_KINDS:
            raise SpaceError(f"unknown unit kind {kind!r}; allowed: {', '.join(UNIT_KINDS)}")
        config = UNIT_KINDS[kind].config_type(**d["config"])
        return cls(kind, config, tuple(int(v) for v in d["input_shape"]))  # type: ignore[arg-type]


def _shape(batch: int, channels: int, size: int) -> tuple[int, int, int, int]:
    return (int(batch), int(channels), int(size), int(size))


def stem_unit(config: NetConfig, batch: int = 1) -> Unit:
    """The first convolution at the network input."""
    return Unit("stem", StemConfig(config.in_channels, config.stem_out, config.stem_stride, config.stem_act),
                _shape(batch, config.in_channels, config.resolution))


def block_unit(block: BlockConfig, size_in: int, batch: int = 1) -> Unit:
    """An MBConv layer (with its parallel branches and residual) on a size_in × size_in input."""
    return Unit("block", block, _shape(batch, block.cin, size_in))


def dense_add_unit(block: BlockConfig, size_in: int, batch: int = 1) -> Unit:
    """The dense-skip add that accompanies a layer at index ≥ 1 of its stage (at the layer's output shape)."""
    return Unit("add", AddConfig(block.cout), _shape(batch, block.cout, conv_out(size_in, block.kernel, block.stride)))


def head_unit(head: HeadConfig, size_in: int, batch: int = 1) -> Unit:
    """The exit head on size_in × size_in features."""
    return Unit("head", head, _shape(batch, head.cin, size_in))


def units_of(config: NetConfig, batch: int = 1) -> list[Unit]:
    """The units one subnet runs, with repetition (one entry per call of a unit)."""
    units = [stem_unit(config, batch)]
    sizes = [conv_out(config.resolution, 3, config.stem_stride)]
    for block in config.blocks:
        units.append(block_unit(block, sizes[-1], batch))
        sizes.append(conv_out(sizes[-1], block.kernel, block.stride))
    if config.dense:
        for start, end in config.stage_ranges:
            units += [dense_add_unit(config.blocks[i], sizes[i], batch) for i in range(start + 1, end)]
    units.append(head_unit(config.head, sizes[-1], batch))
    return units


def _probes(space: SearchSpace, widths: Sequence[float]) -> Iterator[NetConfig]:
    """Configurations that, together, place every (kernel, expand, branches) at every layer slot (with every
    stage at full depth, so also every dense add) and every exit."""
    for w in widths:
        for gene in range(1, len(space.layer_choices) + 1):
            for branches in space.branch_masks:
                yield probe(space, w, gene, branches, space.num_stages)
        for exit_stage in space.exits:
            yield probe(space, w, 1, space.branch_masks[0], exit_stage)


def check_coverage(space: SearchSpace, widths: Iterable[float] | None,
                   resolutions: Iterable[int] | None) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """The widths and resolutions asked for (default: all of the space's), validated against the space."""
    ws = tuple(space.width_mults) if widths is None else tuple(space.check_width(w) for w in widths)
    rs = tuple(space.resolutions) if resolutions is None else tuple(int(r) for r in resolutions)
    for r in rs:
        if r not in space.resolutions:
            raise SpaceError(f"resolution {r} is not in space {space.name!r}; allowed: "
                             + ", ".join(str(v) for v in space.resolutions))
    if not ws or not rs:
        raise SpaceError("at least one width multiplier and one resolution are needed")
    return tuple(sorted(set(ws))), tuple(sorted(set(rs)))


def enumerate_units(space: SearchSpace, widths: Iterable[float] | None = None,
                    resolutions: Iterable[int] | None = None, batch: int = 1) -> list[Unit]:
    """Every unique unit the space's subnets at these widths and resolutions can run, in a stable order."""
    ws, rs = check_coverage(space, widths, resolutions)
    found: dict[str, Unit] = {}
    for config in _probes(space, ws):
        for resolution in rs:
            for unit in units_of(replace(config, resolution=resolution), batch):
                found.setdefault(unit.key, unit)
    return list(found.values())


def unit_counts(space: SearchSpace, widths: Iterable[float] | None = None,
                resolutions: Iterable[int] | None = None) -> dict[str, int]:
    """How many unique units of each kind (and in total) enumerate_units finds."""
    units = enumerate_units(space, widths, resolutions)
    counts = {kind: sum(u.kind == kind for u in units) for kind in UNIT_KINDS}
    return {**counts, "total": len(units)}
