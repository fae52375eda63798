"""MACs and params of many NAT genomes at once: per-space lookup tables, a gather and a masked sum."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hwnat.complexity.analytic import block_cost, block_out, head_cost, stem_cost
from hwnat.models.config import NetConfig, conv_out, net_config
from hwnat.space.arch import Arch
from hwnat.space.genome import canonicalise
from hwnat.space.spec import SearchSpace

MACS, PARAMS = 0, 1


@dataclass(frozen=True)
class Tables:
    """`layers[c, w, r, slot, gene, branch]`: cost c (MACS or PARAMS) of a layer slot (gene 0 costs nothing);
    `base[c, w, r, exit]`: stem, first block and that exit's head."""

    layers: np.ndarray
    base: np.ndarray
    stage_of_slot: np.ndarray
    exits: np.ndarray


def _probe(space: SearchSpace, width_mult: float, gene: int, branches: int, exit_stage: int) -> NetConfig:
    """Every layer slot present with one (kernel, expand): its blocks are those of any arch at that slot."""
    kernel, expand = space.layer_choices[gene - 1]
    depth, stages = space.max_depth, space.num_stages
    exit_ = exit_stage if space.variant.early_exit else None
    arch = Arch(space.resolutions[0], float(width_mult), ((kernel,) * depth,) * stages,
                ((expand,) * depth,) * stages, exit_, branches)
    return net_config(space, arch)


def _block_inputs(config: NetConfig, resolutions: np.ndarray) -> list[np.ndarray]:
    """Input size of every block, per resolution, then the size after the last block."""
    sizes = [conv_out(resolutions, 3, config.stem_stride)]
    for block in config.blocks:
        sizes.append(block_out(block, sizes[-1]))
    return sizes


def _columns(*costs: tuple[np.ndarray | int, np.ndarray | int]) -> np.ndarray:
    """Sum of (MACs, params) pairs, each per resolution or constant, as a (2, resolutions) array."""
    sums = [sum(np.asarray(c[i], dtype=np.int64) for c in costs) for i in (MACS, PARAMS)]
    return np.stack(np.broadcast_arrays(*sums))


@lru_cache(maxsize=64)
def tables(space: SearchSpace) -> Tables:
    """Lookup tables of `space`, built once per space. Widths are fixed per layer slot and strides sit on the
    first layer of a stage, so a slot's shapes depend only on the width multiplier and the resolution."""
    res = np.asarray(space.resolutions, dtype=np.int64)
    n_w, n_r, n_l = len(space.width_mults), len(res), space.num_layers
    n_g, n_b, n_x = len(space.layer_choices) + 1, len(space.branch_masks), len(space.exits)
    layers = np.zeros((2, n_w, n_r, n_l, n_g, n_b), dtype=np.int64)
    base = np.zeros((2, n_w, n_r, n_x), dtype=np.int64)
    for wi, w in enumerate(space.width_mults):
        for gene in range(1, n_g):
            for bi, branches in enumerate(space.branch_masks):
                config = _probe(space, w, gene, branches, space.num_stages)
                sizes = _block_inputs(config, res)
                for slot, block in enumerate(config.blocks[1:]):
                    layers[:, wi, :, slot, gene, bi] = _columns(block_cost(block, sizes[slot + 1]))
        for xi, exit_stage in enumerate(space.exits):
            config = _probe(space, w, 1, space.branch_masks[0], exit_stage)
            sizes = _block_inputs(config, res)
            base[:, wi, :, xi] = _columns(stem_cost(config, res), block_cost(config.blocks[0], sizes[0]),
                                          head_cost(config.head, sizes[-1]))
    stage_of_slot = np.repeat(np.arange(1, space.num_stages + 1), space.max_depth)
    for array in (layers, base, stage_of_slot):
        array.flags.writeable = False
    return Tables(layers, base, stage_of_slot, np.asarray(space.exits, dtype=np.int64))


def complexity_many(space: SearchSpace, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(MACs, params) as int64 arrays of shape (N,) for an (N, G) array (or one genome) of NAT genomes."""
    g = canonicalise(space, np.atleast_2d(np.asarray(genomes)))
    t = tables(space)
    n_r, n_l, n_g, n_b = t.layers.shape[2:]
    n_x = t.base.shape[-1]
    zeros = np.zeros(len(g), dtype=np.int64)
    exit_idx = g[:, 2 + n_l] if space.variant.early_exit else zeros
    branch_idx = g[:, -1] if space.variant.parallel else zeros
    wr = g[:, 1] * n_r + g[:, 0]
    genes = g[:, 2 : 2 + n_l]
    if space.variant.early_exit:
        genes = np.where(t.stage_of_slot[None, :] <= t.exits[exit_idx][:, None], genes, 0)
    slots = ((wr[:, None] * n_l + np.arange(n_l)) * n_g + genes) * n_b + branch_idx[:, None]
    heads = wr * n_x + exit_idx
    layers, base = t.layers.reshape(2, -1), t.base.reshape(2, -1)
    macs = layers[MACS].take(slots).sum(axis=1) + base[MACS].take(heads)
    params = layers[PARAMS].take(slots).sum(axis=1) + base[PARAMS].take(heads)
    return macs, params
