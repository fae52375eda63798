"""Fixtures of the latency tests: synthetic tables (deterministic fake timings per unit key) and a tables folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from latency_fakes import MakeTable, fake_identity, fake_ms

from hwnat.latency.blocks import enumerate_units
from hwnat.latency.calibration import Calibration
from hwnat.latency.identity import SpaceIdentity
from hwnat.latency.table import LatencyTable
from hwnat.latency.timing import UnitTiming
from hwnat.space import SearchSpace


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
