"""Seeded sampling of random archs and genomes from a search space."""

from __future__ import annotations

import numpy as np

from hwnat.space.arch import Arch
from hwnat.space.spec import SearchSpace


def sample_arch(space: SearchSpace, rng: np.random.Generator, width_mult: float | None = None) -> Arch:
    """Uniform choice per dimension: resolution, depth per stage, kernel and expand per layer, exit, branches."""
    w = float(rng.choice(space.width_mults)) if width_mult is None else float(width_mult)
    kernels, expands = [], []
    for _ in space.stages:
        d = int(rng.choice(space.depths))
        kernels.append(tuple(int(k) for k in rng.choice(space.kernel_sizes, size=d)))
        expands.append(tuple(int(e) for e in rng.choice(space.expand_ratios, size=d)))
    exit_ = int(rng.choice(space.exits)) if space.variant.early_exit else None
    arch = Arch(int(rng.choice(space.resolutions)), w, tuple(kernels), tuple(expands), exit_,
                int(rng.choice(space.branch_masks)))
    return arch.canonical(space)


def sample_archs(space: SearchSpace, n: int, seed: int, width_mult: float | None = None) -> list[Arch]:
    rng = np.random.default_rng(seed)
    return [sample_arch(space, rng, width_mult) for _ in range(n)]
