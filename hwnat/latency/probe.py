"""A speed probe: one fixed small model, timed briefly just before every measurement, whose drift rescales it.

The 2-core CI VMs drift between speed regimes lasting seconds (a fixed model runs up to 1.6× slower for a
while, then recovers), and the slowdown hits every model alike (correlation 0.70 between a job's deviation and
the probe's, OpenVINO). Scaling each measurement by (session median of the probe) / (probe just before it) cut
the pass-to-pass spread of OpenVINO unit timings from 33% to 19%.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwnat.latency.timing import UnitTiming

if TYPE_CHECKING:
    from hwnat.backends.base import Backend
    from hwnat.config.targets import TimingSpec
    from hwnat.latency.blocks import Unit

SCALED_FIELDS = ("p50_ms", "p90_ms", "mean_ms", "std_ms", "p10_ms", "min_ms")


def probe_unit(batch: int = 1) -> Unit:
    """The probe's model (also shipped in board bundles): a small MBConv block (16 channels, k5, e3, 32×32)."""
    from hwnat.latency.blocks import Unit
    from hwnat.models.config import BlockConfig

    return Unit("block", BlockConfig(16, 16, 5, 1, 48, "relu", False, True, True), (batch, 16, 32, 32))


def probe_timing() -> TimingSpec:
    """How long one probe sample runs: 2 warm-up calls, then ≥ 10 calls and ≥ 10 ms."""
    from hwnat.config.targets import TimingSpec

    return TimingSpec(warmup=2, min_runs=10, min_time_s=0.01)


class SpeedProbe:
    """The probe unit compiled once on the backend."""

    def __init__(self, backend: Backend, folder: Path) -> None:
        from hwnat.backends.base import ModelSource

        unit = probe_unit(backend.spec.batch)
        self.compiled = backend.compile(ModelSource(unit.input_shape, onnx_path=unit.export(folder / "probe.onnx")))
        self.x = np.random.default_rng(0).standard_normal(unit.input_shape).astype(np.float32)
        self.timing = probe_timing()

    def sample(self) -> float:
        """The probe's p10 (ms) over a ~10 ms window, now."""
        return float(np.percentile(self.compiled.time_calls(self.x, self.timing), 10) * 1e3)


def rescale(stats: UnitTiming, factor: float) -> UnitTiming:
    """Every latency statistic multiplied by `factor`."""
    return replace(stats, **{k: None if getattr(stats, k) is None else getattr(stats, k) * factor
                             for k in SCALED_FIELDS})


def normalise(stats: UnitTiming, probe_ms: float | None, session_median: float | None) -> UnitTiming:
    """A measurement scaled by how fast the machine ran then (unchanged without a probe sample)."""
    if probe_ms is None or session_median is None or probe_ms <= 0:
        return stats
    return rescale(stats, session_median / probe_ms)
