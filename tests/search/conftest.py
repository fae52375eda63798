"""Fixtures for the search tests: the small-input space at width 0.5, bounds, a synthetic latency."""

from __future__ import annotations

import numpy as np
import pytest

from hwnat.search.evaluator import SyntheticEvaluator, SyntheticLatency
from hwnat.search.operators import search_bounds
from hwnat.space import SearchSpace, get_space


@pytest.fixture(scope="session")
def space() -> SearchSpace:
    return get_space("mbv3-small-input")


@pytest.fixture(scope="session")
def bounds(space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    return search_bounds(space, 0.5)


@pytest.fixture(scope="session")
def latency(space: SearchSpace) -> SyntheticLatency:
    return SyntheticLatency(space)


@pytest.fixture()
def evaluator(space: SearchSpace) -> SyntheticEvaluator:
    return SyntheticEvaluator(space, seed=0)
