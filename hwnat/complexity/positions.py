"""Per-position lookup tables over NAT genomes: built by probing net_config, evaluated by a gather and a sum.

A layer slot's shapes depend only on the width multiplier and the resolution (widths are fixed per slot and the
stride sits on a stage's first layer), so any additive per-network quantity (MACs, params, latency) is the sum
of one value per present layer slot (indexed by width, resolution, slot, gene, branch mask) plus one value for
the stem, the first block and the exit head (indexed by width, resolution, exit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hwnat.models.config import BlockConfig, NetConfig, conv_out, net_config
from hwnat.space.arch import Arch
from hwnat.space.genome import canonicalise
from hwnat.space.spec import SearchSpace

# (block, its input size per resolution, its index inside its stage) -> values of shape (*lead, resolutions)
LayerFn = Callable[[BlockConfig, np.ndarray, int], np.ndarray]
# (config, the resolutions, input size of every block per resolution then the size after the last block)
# -> values of shape (*lead, resolutions)
BaseFn = Callable[[NetConfig, np.ndarray, Sequence[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class PositionTable:
    """`layers[*lead, w, r, slot, gene, branch]`: a layer slot's value (gene 0 is worth nothing);
    `base[*lead, w, r, exit]`: stem, first block and that exit's head."""

    layers: np.ndarray
    base: np.ndarray
    stage_of_slot: np.ndarray
    exits: np.ndarray

    @property
    def lead_shape(self) -> tuple[int, ...]:
        return self.base.shape[:-3]


def probe(space: SearchSpace, width_mult: float, gene: int, branches: int, exit_stage: int) -> NetConfig:
    """Every layer slot present with one (kernel, expand): its blocks are those of any arch at that slot."""
    kernel, expand = space.layer_choices[gene - 1]
    depth, stages = space.max_depth, space.num_stages
    exit_ = exit_stage if space.variant.early_exit else None
    arch = Arch(space.resolutions[0], float(width_mult), ((kernel,) * depth,) * stages,
                ((expand,) * depth,) * stages, exit_, branches)
    return net_config(space, arch)


def block_input_sizes(config: NetConfig, resolutions: np.ndarray) -> list[np.ndarray]:
    """Input size of every block, per resolution, then the size after the last block."""
    sizes = [conv_out(resolutions, 3, config.stem_stride)]
    for block in config.blocks:
        sizes.append(conv_out(sizes[-1], block.kernel, block.stride))
    return sizes


def build_position_table(space: SearchSpace, layer_fn: LayerFn, base_fn: BaseFn, *,
                         lead: tuple[int, ...] = (), dtype: type = np.int64) -> PositionTable:
    """Fill a PositionTable of `space` by probing every (width, gene, branch mask) and every exit once."""
    res = np.asarray(space.resolutions, dtype=np.int64)
    n_w, n_r, n_l = len(space.width_mults), len(res), space.num_layers
    n_g, n_b, n_x = len(space.layer_choices) + 1, len(space.branch_masks), len(space.exits)
    layers = np.zeros((*lead, n_w, n_r, n_l, n_g, n_b), dtype=dtype)
    base = np.zeros((*lead, n_w, n_r, n_x), dtype=dtype)
    for wi, w in enumerate(space.width_mults):
        for gene in range(1, n_g):
            for bi, branches in enumerate(space.branch_masks):
                config = probe(space, w, gene, branches, space.num_stages)
                sizes = block_input_sizes(config, res)
                for slot, block in enumerate(config.blocks[1:]):
                    layers[..., wi, :, slot, gene, bi] = layer_fn(block, sizes[slot + 1], slot % space.max_depth)
        for xi, exit_stage in enumerate(space.exits):
            config = probe(space, w, 1, space.branch_masks[0], exit_stage)
            base[..., wi, :, xi] = base_fn(config, res, block_input_sizes(config, res))
    stage_of_slot = np.repeat(np.arange(1, space.num_stages + 1), space.max_depth)
    for array in (layers, base, stage_of_slot):
        array.flags.writeable = False
    return PositionTable(layers, base, stage_of_slot, np.asarray(space.exits, dtype=np.int64))


def gather_sum(space: SearchSpace, table: PositionTable, genomes: np.ndarray) -> np.ndarray:
    """Sum of the table's values over each genome's present positions: shape (*lead, N) for an (N, G) array
    (or one genome). Genomes are canonicalised first, so genes after a skip or after the exit count nothing."""
    g = canonicalise(space, np.atleast_2d(np.asarray(genomes)))
    lead = table.lead_shape
    n_r, n_l, n_g, n_b = table.layers.shape[-4:]
    n_x = table.base.shape[-1]
    zeros = np.zeros(len(g), dtype=np.int64)
    exit_idx = g[:, 2 + n_l] if space.variant.early_exit else zeros
    branch_idx = g[:, -1] if space.variant.parallel else zeros
    wr = g[:, 1] * n_r + g[:, 0]
    genes = g[:, 2 : 2 + n_l]
    if space.variant.early_exit:
        genes = np.where(table.stage_of_slot[None, :] <= table.exits[exit_idx][:, None], genes, 0)
    slots = ((wr[:, None] * n_l + np.arange(n_l)) * n_g + genes) * n_b + branch_idx[:, None]
    heads = wr * n_x + exit_idx
    n_lead = int(np.prod(lead, dtype=np.int64))
    layers, base = table.layers.reshape(n_lead, -1), table.base.reshape(n_lead, -1)
    out = np.stack([layers[i].take(slots).sum(axis=1) + base[i].take(heads) for i in range(n_lead)])
    return out.reshape(*lead, len(g))
