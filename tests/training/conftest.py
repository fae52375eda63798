"""Fixtures of the training tests: the tiny search space and the shrunk smoke overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_run import TINY, overrides  # noqa: F401  (re-exported for the tests)

HERE = Path(__file__).resolve().parent


@pytest.fixture
def tiny_space():
    return TINY


@pytest.fixture
def tiny_script() -> Path:
    return HERE / "tiny_run.py"
