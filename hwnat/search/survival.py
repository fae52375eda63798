"""Survival of a fixed number of points: rank + crowding (2 objectives) or NSGA-III reference directions (≥ 3)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymoo.core.population import Population
from pymoo.core.problem import Problem


def riesz_directions(n_obj: int, n_points: int, seed: int = 1) -> np.ndarray:
    """Riesz s-energy reference directions (a fresh copy of a cached set: their optimisation takes a moment)."""
    return _riesz(n_obj, n_points, seed).copy()


@lru_cache(maxsize=16)
def _riesz(n_obj: int, n_points: int, seed: int) -> np.ndarray:
    from pymoo.util.ref_dirs import get_reference_directions

    return np.asarray(get_reference_directions("energy", n_obj, n_points, seed=seed), dtype=np.float64)


def survive(F: np.ndarray, n: int, rng: np.random.Generator, cv: np.ndarray | None = None,
            ref_dirs: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `n` survivors of F (minimised); feasible points (cv ≤ 0) first, then least violation."""
    F = np.asarray(F, dtype=np.float64)
    if n >= len(F):
        return np.arange(len(F))
    n_obj = F.shape[1]
    if n_obj <= 2:
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

        survival = RankAndCrowding()
    else:
        from pymoo.algorithms.moo.nsga3 import ReferenceDirectionSurvival

        survival = ReferenceDirectionSurvival(riesz_directions(n_obj, max(n_obj + 1, min(n, 100))) if ref_dirs is None
                                              else ref_dirs)
    cv = np.zeros(len(F)) if cv is None else np.maximum(0.0, np.asarray(cv, dtype=np.float64))
    pop = Population.new(F=F, G=cv[:, None], index=np.arange(len(F)))
    problem = Problem(n_var=1, n_obj=n_obj, n_ieq_constr=1 if (cv > 0).any() else 0, xl=0, xu=1)
    kept = survival.do(problem, pop, n_survive=n, random_state=rng)
    return np.sort(np.asarray(kept.get("index"), dtype=np.int64))
