"""Fixtures of the latency tests: synthetic tables (deterministic fake timings per unit key) and a tables folder."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from hwnat.config.targets import load_target
from hwnat.latency.blocks import enumerate_units
from hwnat.latency.calibration import Calibration
from hwnat.latency.identity import SpaceIdentity, TargetIdentity
from hwnat.latency.table import LatencyTable
from hwnat.latency.timing import UnitTiming
from hwnat.space import SearchSpace

MakeTable = Callable[..., LatencyTable]


def fake_ms(key: str) -> float:
    """A deterministic pseudo-latency in [0.01, 0.2) ms per unit key."""
    return 0.01 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32 * 0.19


def fake_identity(name: str = "fake-cpu") -> TargetIdentity:
    from hwnat.backends.base import create_backend

    spec = load_target(name)
    return TargetIdentity.measured(spec, create_backend(spec))


@pytest.fixture
def make_table() -> MakeTable:
    def make(space: SearchSpace, widths: tuple[float, ...] | None = None,
             calibration: Calibration | None = None) -> LatencyTable:
        widths = tuple(space.width_mults) if widths is None else widths
        units = enumerate_units(space, widths)
        entries = {u.key: UnitTiming(2 * fake_ms(u.key), 0.0, 0.0, 0.0, 1, fake_ms(u.key), 0.0) for u in units}
        return LatencyTable(fake_identity(), SpaceIdentity.of(space), widths, tuple(space.resolutions), entries,
                            calibration or Calibration())

    return make


@pytest.fixture
def tables_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "latency_tables"
    folder.mkdir()
    monkeypatch.setenv("HWNAT_TABLES_DIR", str(folder))
    return folder
