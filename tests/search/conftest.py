"""Fixtures for the search tests: the small-input space at width 0.5, bounds, a synthetic latency, and a helper
that SIGKILLs a search process once it reaches a given point."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

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


def _kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 300) -> None:
    """SIGKILL `proc` as soon as `ready()` holds (it must still be running then and get there within `timeout`)."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, "the search finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture()
def kill_when() -> Callable[..., None]:
    return _kill_when
