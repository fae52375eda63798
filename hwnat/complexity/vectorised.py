"""MACs and params of many NAT genomes at once: per-space position tables, a gather and a masked sum."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from hwnat.complexity.analytic import block_cost, head_cost, stem_cost
from hwnat.complexity.positions import PositionTable, build_position_table, gather_sum
from hwnat.models.config import BlockConfig, NetConfig
from hwnat.space.spec import SearchSpace

MACS, PARAMS = 0, 1

Tables = PositionTable  # `layers[c, w, r, slot, gene, branch]` and `base[c, w, r, exit]`, c = MACS or PARAMS


def _columns(*costs: tuple[np.ndarray | int, np.ndarray | int]) -> np.ndarray:
    """Sum of (MACs, params) pairs, each per resolution or constant, as a (2, resolutions) array."""
    sums = [sum(np.asarray(c[i], dtype=np.int64) for c in costs) for i in (MACS, PARAMS)]
    return np.stack(np.broadcast_arrays(*sums))


def _layer_cost(block: BlockConfig, size: np.ndarray, index_in_stage: int) -> np.ndarray:
    return _columns(block_cost(block, size))


def _base_cost(config: NetConfig, resolutions: np.ndarray, sizes: Sequence[np.ndarray]) -> np.ndarray:
    return _columns(stem_cost(config, resolutions), block_cost(config.blocks[0], sizes[0]),
                    head_cost(config.head, sizes[-1]))


@lru_cache(maxsize=64)
def tables(space: SearchSpace) -> Tables:
    """Lookup tables of `space`, built once per space."""
    return build_position_table(space, _layer_cost, _base_cost, lead=(2,), dtype=np.int64)


def complexity_many(space: SearchSpace, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(MACs, params) as int64 arrays of shape (N,) for an (N, G) array (or one genome) of NAT genomes."""
    macs, params = gather_sum(space, tables(space), genomes)
    return macs, params
