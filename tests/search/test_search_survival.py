"""Fixed-size survival (rank + crowding, NSGA-III reference directions), subset selection, hypervolume."""

from __future__ import annotations

import numpy as np
import pytest

from hwnat.errors import ConfigError
from hwnat.search.metrics import high_tradeoff, hypervolume, non_dominated
from hwnat.search.selection import create_selector
from hwnat.search.survival import riesz_directions, survive


def front_2d(n: int) -> np.ndarray:
    x = np.linspace(0, 1, n)
    return np.column_stack([1 - np.sqrt(x), x])


def test_rank_and_crowding_prefers_front_and_extremes() -> None:
    front = front_2d(10)
    dominated = front + 0.5
    F = np.vstack([dominated, front])
    kept = survive(F, 10, np.random.default_rng(0))
    assert kept.tolist() == list(range(10, 20))
    kept = survive(front_2d(30), 5, np.random.default_rng(0))
    assert {0, 29} <= set(kept.tolist()) and len(kept) == 5


def test_feasible_first() -> None:
    F = front_2d(6)
    cv = np.array([0, 0, 1, 1, 0, 2.0])
    kept = survive(F, 4, np.random.default_rng(0), cv)
    assert set(kept.tolist()) == {0, 1, 4, 2}


def test_nsga3_survival_three_objectives() -> None:
    rng = np.random.default_rng(0)
    F = rng.random((60, 3))
    kept = survive(F, 20, np.random.default_rng(1))
    assert len(kept) == 20 and len(set(kept.tolist())) == 20
    nd = set(non_dominated(F).tolist())
    assert nd <= set(kept.tolist()) or len(nd) > 20
    dirs = riesz_directions(3, 20)
    assert dirs.shape == (20, 3) and np.allclose(dirs.sum(axis=1), 1.0)


def test_gap_selection_fills_gaps() -> None:
    archive_front = np.array([[0.5, 0.0], [0.1, 1.0]])
    x = np.linspace(0, 1, 11)
    cand = np.column_stack([0.5 - 0.4 * x, x])
    chosen = create_selector("gap")(cand, archive_front, 1, np.random.default_rng(0))
    assert chosen.tolist() == [5]  # the middle of the only gap
    chosen = create_selector("gap")(cand, archive_front, 3, np.random.default_rng(0))
    assert len(set(chosen.tolist())) == 3
    assert len(create_selector("gap")(cand, archive_front, 50, np.random.default_rng(0))) == 11


def test_unknown_selector() -> None:
    with pytest.raises(ConfigError, match="did you mean 'gap'"):
        create_selector("gapp")


def test_hypervolume_and_tradeoff() -> None:
    ideal, nadir = np.zeros(2), np.ones(2)
    assert hypervolume(np.array([[0.0, 0.0]]), ideal, nadir, margin=0.0) == pytest.approx(1.0)
    assert hypervolume(np.array([[0.5, 0.5]]), ideal, nadir, margin=0.0) == pytest.approx(0.25)
    assert hypervolume(np.zeros((0, 2)), ideal, nadir) == 0.0
    knee = np.array([[0.0, 1.0], [0.05, 0.3], [0.1, 0.1], [0.3, 0.05], [1.0, 0.0]])
    assert 2 in high_tradeoff(knee, ideal, nadir).tolist()
