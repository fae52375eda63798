"""Subset selection: K candidates from the optimiser's result, chosen to fill the gaps in the archive's front."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hwnat.errors import ConfigError, unknown_name
from hwnat.search.metrics import non_dominated

Selector = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]
_SELECTORS: dict[str, Selector] = {}


def register_selector(name: str) -> Callable[[Selector], Selector]:
    def add(fn: Selector) -> Selector:
        _SELECTORS[name] = fn
        return fn
    return add


def create_selector(name: str) -> Selector:
    if name not in _SELECTORS:
        raise ConfigError(unknown_name("subset selection", name, _SELECTORS))
    return _SELECTORS[name]


def list_selectors() -> list[str]:
    return sorted(_SELECTORS)


def _scaled(cand: np.ndarray, front: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = np.vstack([cand, front]) if len(front) else cand
    lo, hi = both.min(axis=0), both.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (cand - lo) / span, ((front - lo) / span if len(front) else front)


@register_selector("gap")
def gap_filling(cand_F: np.ndarray, front_F: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy: repeatedly take the candidate farthest (in the normalised non-error objectives) from the archive's
    front and the candidates already taken; non-dominated candidates first, ties to the lower predicted error."""
    n = len(cand_F)
    if k >= n:
        return np.arange(n)
    order = np.zeros(n, dtype=np.int64)  # front rank of each candidate, peeled iteratively
    rest, rank = np.arange(n), 0
    while len(rest):
        nd = rest[non_dominated(cand_F[rest])]
        order[nd] = rank
        rest, rank = np.setdiff1d(rest, nd), rank + 1
    pool = np.flatnonzero(order <= np.sort(order)[k - 1])  # ranks needed to reach k candidates
    cand, front = _scaled(cand_F[pool][:, 1:], front_F[:, 1:] if len(front_F) else front_F)
    dist = (np.min(np.linalg.norm(cand[:, None, :] - front[None, :, :], axis=2), axis=1) if len(front)
            else np.full(len(pool), np.inf))
    chosen: list[int] = []
    for _ in range(k):
        score = np.where(np.isin(np.arange(len(pool)), chosen), -np.inf, dist - order[pool] * 1e3)
        best = np.flatnonzero(score == score.max())
        pick = int(best[np.argmin(cand_F[pool][best, 0])])
        chosen.append(pick)
        dist = np.minimum(dist, np.linalg.norm(cand - cand[pick], axis=1))
    return np.sort(pool[chosen])


@register_selector("random")
def random_subset(cand_F: np.ndarray, front_F: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """K candidates uniformly at random (ablation baseline)."""
    return np.sort(rng.choice(len(cand_F), size=min(k, len(cand_F)), replace=False))
