"""Which whole subnets to measure: calibration sets spread over the space, and held-out random validation sets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from hwnat.space.arch import Arch, max_arch, min_arch
from hwnat.space.genome import arch_id, encode
from hwnat.space.sampling import sample_arch
from hwnat.space.spec import SearchSpace

POOL_FACTOR = 50  # stratified calibration sets are drawn from this many random archs per wanted one
MAX_TRIES_PER_ARCH = 20

RawSum = Callable[[np.ndarray], np.ndarray]  # NAT genomes (N, G) -> raw block sums (N,)


def random_archs(space: SearchSpace, n: int, rng: np.random.Generator, widths: Sequence[float],
                 resolutions: Sequence[int], exclude: Iterable[str] = ()) -> list[Arch]:
    """Up to `n` distinct uniform random archs at the given widths and resolutions, none of whose ids is in
    `exclude` (fewer only when the space is so small that MAX_TRIES_PER_ARCH draws per arch do not find them)."""
    seen = set(exclude)
    out: list[Arch] = []
    for _ in range(MAX_TRIES_PER_ARCH * n):
        if len(out) == n:
            break
        arch = sample_arch(space, rng, float(rng.choice(widths)))
        arch = replace(arch, resolution=int(rng.choice(resolutions)))
        key = arch_id(space, arch)
        if key not in seen:
            seen.add(key)
            out.append(arch)
    return out


def calibration_archs(space: SearchSpace, n: int, raw_sum: RawSum, seed: int, widths: Sequence[float],
                      resolutions: Sequence[int]) -> list[Arch]:
    """Up to `n` subnets, split evenly over the widths: at each width the smallest and the largest, then random
    ones stratified by raw sum (evenly spaced quantiles of a large random pool at that width), so that the fit
    sees the whole latency range of every width."""
    rng = np.random.default_rng(seed)
    shares = [n // len(widths) + (i < n % len(widths)) for i in range(len(widths))]
    chosen: list[Arch] = []
    for w, share in zip(widths, shares):
        ends = [replace(min_arch(space, w), resolution=min(resolutions)),
                replace(max_arch(space, w), resolution=max(resolutions))]
        picked = list({arch_id(space, a): a for a in ends}.values())[:share]
        rest = share - len(picked)
        if rest > 0:
            taken = [arch_id(space, a) for a in chosen + picked]
            pool = random_archs(space, POOL_FACTOR * rest, rng, [w], resolutions, exclude=taken)
            sums = raw_sum(np.stack([encode(space, a) for a in pool]))
            order = np.argsort(sums, kind="stable")
            picks = np.unique(np.round((np.arange(rest) + 0.5) / rest * (len(pool) - 1)).astype(int))
            picked += [pool[i] for i in order[picks]]
        chosen += picked
    return chosen
