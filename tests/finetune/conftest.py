"""Fixtures of the fine-tuning tests: untrained super-network files (base and early-exit) and the digits."""

from __future__ import annotations

from pathlib import Path

import pytest
from ft_helpers import make_supernet

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def base_supernet(tmp_path_factory) -> Path:
    return make_supernet(tmp_path_factory.mktemp("sn-base") / "supernet.pt", "base")


@pytest.fixture(scope="session")
def ee_supernet(tmp_path_factory) -> Path:
    return make_supernet(tmp_path_factory.mktemp("sn-ee") / "supernet.pt", "ee-base")


@pytest.fixture(scope="session")
def digits():
    from hwnat.data import digits_dataset

    return digits_dataset()


@pytest.fixture
def helper_script() -> Path:
    return HERE / "ft_helpers.py"
