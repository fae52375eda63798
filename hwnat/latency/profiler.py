"""Profile units one at a time: export each alone to ONNX, compile and time it on one backend, journal it.

Shared CPUs drift between speed regimes lasting seconds (±30% on the CI machines), which a unit timed once
would carry whole. So every job is timed in several passes, each over all jobs in a fresh shuffled order,
and its timing combines the passes (median of the pass quantiles). The job list is `enumerate_units` →
`plan_jobs` → `Job.export` → `measure_onnx` → `JobPlan.entries`; a bundle writer for boards reuses the same
jobs, keys and export and brings back {job key: timings} to turn into entries.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwnat.backends.base import ModelSource, TimingStats
from hwnat.latency.probe import SpeedProbe, normalise
from hwnat.latency.timing import UnitTiming, combine_passes
from hwnat.progress import progress_bar

if TYPE_CHECKING:
    from hwnat.backends.base import Backend, CompiledModel
    from hwnat.config.targets import TimingSpec
    from hwnat.latency.blocks import Unit
    from hwnat.latency.journal import Journal, JournalRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileResult:
    """Timings of every unit asked for; `reused`: units taken from a known table; `resumed`: (unit, pass)
    timings taken from the journal; `measured`: (unit, pass) timings measured now, in `wall_s` seconds;
    `pass_spread`: how much passes disagreed (median over units of (max − min) / median of pass medians)."""

    entries: dict[str, UnitTiming]
    reused: int
    resumed: int
    measured: int
    wall_s: float
    pass_spread: float | None = None
    mode: str = "alone"
    jobs: int = 0


def time_compiled(compiled: CompiledModel, timing: TimingSpec, seed: int = 0) -> UnitTiming:
    """Time a compiled model on a seeded random input with explicit timing settings."""
    x = np.random.default_rng(seed).standard_normal(compiled.input_shape).astype(np.float32)
    return UnitTiming.from_seconds(compiled.time_calls(x, timing))


def measure_onnx(backend: Backend, onnx_path: Path, input_shape: tuple[int, ...], timing: TimingSpec) -> UnitTiming:
    """Compile one ONNX model on the backend and time it."""
    compiled = backend.compile(ModelSource(tuple(input_shape), onnx_path=onnx_path))
    return time_compiled(compiled, timing)


def split_timing(timing: TimingSpec, passes: int) -> TimingSpec:
    """Per-pass settings that spend the target's measuring time (and runs) over `passes` passes."""
    return replace(timing, min_time_s=timing.min_time_s / passes, min_runs=max(1, -(-timing.min_runs // passes)))


@contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Export with one torch thread: tracing tiny blocks is faster so, and no OpenMP worker left spinning after
    an export steals the CPU from the runtime being timed."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def profile_units(backend: Backend, units: Sequence[Unit], timing: TimingSpec, *, passes: int = 1,
                  journal: Journal | None = None, known: dict[str, TimingStats] | None = None,
                  progress: bool = True, seed: int = 0, mode: str = "alone",
                  use_probe: bool = True) -> ProfileResult:
    """Timings of `units` with `timing` per pass, measured as the jobs of `mode` (see hwnat.latency.jobs).
    Units in `known` are kept; (job, pass) timings already in the journal are reused; the others are measured
    pass by pass, each pass in its own seeded shuffled order, each appended to the journal as soon as it is
    done. Each timing is scaled by the speed probe sampled just before it (see hwnat.latency.probe) unless
    `use_probe` is False. Nothing else runs on the backend meanwhile."""
    from hwnat.latency.jobs import plan_jobs
    from hwnat.latency.journal import JournalRow

    known = {k: UnitTiming.of(v) for k, v in (known or {}).items()}
    done: dict[tuple[str, int], JournalRow] = journal.load() if journal is not None else {}
    session = uuid.uuid4().hex[:8]
    unique = list({u.key: u for u in units}.values())
    plan = plan_jobs([u for u in unique if u.key not in known], mode)
    left = [[j for j in plan.jobs if (j.key, p) not in done] for p in range(passes)]
    measured_now = sum(len(pending) for pending in left)
    resumed = len(plan.jobs) * passes - measured_now
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hwnat-profile-") as tmp, single_threaded_torch(), \
            progress_bar(measured_now, f"profiling {backend.spec.name}", progress, unit="unit",
                         smoothing=0.05) as bar:
        files: dict[str, Path] = {}
        probe = SpeedProbe(backend, Path(tmp)) if measured_now and use_probe else None
        for p, pending in enumerate(left):
            for i in np.random.default_rng([seed, p]).permutation(len(pending)):
                job = pending[i]
                if job.key not in files:
                    files[job.key] = job.export(Path(tmp) / f"{len(files)}.onnx")
                compiled = backend.compile(ModelSource(tuple(job.input_shape), onnx_path=files[job.key]))
                probe_ms = probe.sample() if probe is not None else None
                stats = time_compiled(compiled, timing)
                if journal is not None:
                    journal.append(job.key, stats, p, probe_ms, session)
                done[job.key, p] = JournalRow(stats, probe_ms, session)
                bar.update(1)
    wall = time.perf_counter() - start
    medians = _session_medians(done)
    per_job = {j.key: [_normalised(done[j.key, p], medians) for p in range(passes)] for j in plan.jobs}
    entries = {**known, **plan.entries({k: combine_passes(v) for k, v in per_job.items()})}
    spread = _spread(list(per_job.values())) if passes > 1 and per_job else None
    log.info("profiled %d units (%d jobs) × %d passes: %d timings in %.1f s (%d from the journal, %d units reused)",
             len(plan.units), len(plan.jobs), passes, measured_now, wall, resumed, len(unique) - len(plan.units))
    return ProfileResult({u.key: entries[u.key] for u in unique}, len(unique) - len(plan.units), resumed,
                         measured_now, wall, spread, plan.mode, len(plan.jobs))


def _session_medians(done: dict[tuple[str, int], JournalRow]) -> dict[str, float]:
    """Median speed-probe sample of each profiling session (process run) in the journal."""
    samples: dict[str, list[float]] = {}
    for row in done.values():
        if row.probe_ms is not None:
            samples.setdefault(row.session, []).append(row.probe_ms)
    return {s: float(np.median(v)) for s, v in samples.items()}


def _normalised(row: JournalRow, medians: dict[str, float]) -> UnitTiming:
    return normalise(row.stats, row.probe_ms, medians.get(row.session))


def _spread(per_unit: list[list[TimingStats]]) -> float:
    p50 = np.array([[s.p50_ms for s in row] for row in per_unit])
    return float(np.median((p50.max(axis=1) - p50.min(axis=1)) / np.median(p50, axis=1)))
