"""`hwnat profile` as a library call: profile units (resumable), write the table, calibrate and validate it."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat.errors import ConfigError
from hwnat.latency.blocks import check_coverage, enumerate_units
from hwnat.latency.calibration import Calibration, fit_calibration
from hwnat.latency.identity import SpaceIdentity, TargetIdentity
from hwnat.latency.jobs import MODES, default_mode
from hwnat.latency.journal import Journal
from hwnat.latency.networks import default_network_timing, measure_networks
from hwnat.latency.profiler import profile_units, split_timing
from hwnat.latency.selection import calibration_archs, random_archs
from hwnat.latency.store import default_table_path
from hwnat.latency.table import LatencyTable, LatencyTableError
from hwnat.latency.validation import accuracy
from hwnat.space.genome import arch_id, encode

if TYPE_CHECKING:
    from hwnat.backends.base import Backend
    from hwnat.config.targets import TargetSpec, TimingSpec
    from hwnat.space.arch import Arch
    from hwnat.space.spec import SearchSpace

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION_NETS = 30
DEFAULT_ROUNDS = 5
DEFAULT_PASSES = 3
# Measuring seconds per unit over all passes. The target's own min_time_s (0.2 s) is meant for whole-model
# benchmarks; many short passes beat one long one on a drifting machine, and 0.06 s keeps a full table of the
# small-input preset under 10 minutes (tools/bench_latency_tables.py --tradeoff measures the choice).
DEFAULT_UNIT_MIN_TIME_S = 0.06


@dataclass(frozen=True)
class ProfileRequest:
    """What to profile and how. `calibrate=None`: fit on DEFAULT_CALIBRATION_NETS nets when anything changed."""

    target: TargetSpec
    space: SearchSpace
    widths: tuple[float, ...] | None = None
    resolutions: tuple[int, ...] | None = None
    out: Path | None = None
    calibrate: int | None = None
    validate: int = 0
    seed: int = 0
    block_min_time_s: float | None = None
    passes: int = DEFAULT_PASSES
    rounds: int = DEFAULT_ROUNDS
    progress: bool = True
    mode: str | None = None  # unit timing mode (hwnat.latency.jobs); None: the runtime's default

    def __post_init__(self) -> None:
        if self.calibrate is not None and self.calibrate < 0:
            raise ConfigError(f"calibrate must be ≥ 0 subnets, got {self.calibrate}")
        if self.validate < 0 or self.validate == 1:
            raise ConfigError(f"validate must be 0 or ≥ 2 subnets, got {self.validate}")
        if self.rounds < 1:
            raise ConfigError(f"rounds must be ≥ 1, got {self.rounds}")
        if self.passes < 1:
            raise ConfigError(f"passes must be ≥ 1, got {self.passes}")
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"unknown unit timing mode {self.mode!r}; allowed: {', '.join(MODES)}")
        if self.block_min_time_s is not None and self.block_min_time_s < 0:
            raise ConfigError(f"block minimum time must be ≥ 0 s, got {self.block_min_time_s}")

    @property
    def unit_mode(self) -> str:
        return self.mode or default_mode(self.target.runtime)


def block_timing(req: ProfileRequest) -> TimingSpec:
    """Per-pass timing: the target's warm-up and runs, with the measuring time per unit (the one asked for, else
    DEFAULT_UNIT_MIN_TIME_S) spread over the passes."""
    min_time = DEFAULT_UNIT_MIN_TIME_S if req.block_min_time_s is None else req.block_min_time_s
    return split_timing(replace(req.target.timing, min_time_s=min_time), req.passes)


def journal_path(table_path: Path) -> Path:
    return table_path.with_name(table_path.name + ".journal.jsonl")


def _reusable(path: Path, identity: TargetIdentity, space: SearchSpace, mode: str) -> LatencyTable | None:
    """The table already at `path` if it is for this target, machine, space and unit timing mode; else None
    (it gets replaced)."""
    if not path.exists():
        return None
    try:
        table = LatencyTable.load(path).check(identity, space)
    except LatencyTableError as exc:
        log.warning("replacing %s: %s", path, exc)
        return None
    if table.profiling.get("mode", "alone") != mode:
        log.warning("replacing %s: its units were timed %s, not %s", path, table.profiling.get("mode"), mode)
        return None
    return table


def _require_local(spec: TargetSpec) -> None:
    if spec.remote is not None:
        raise ConfigError(
            f"target {spec.name!r} runs on the board {spec.remote.destination} over SSH; profiling it here would "
            f"measure this machine. Measure it on the board: hwnat profile --target {spec.name} --space ... --remote "
            f"(or --bundle FILE.tar.gz, then --import).")


def build_table(req: ProfileRequest, backend: Backend | None = None) -> dict[str, Any]:
    """Profile (resuming from the journal and reusing a matching table), write the table atomically, then
    calibrate and validate on whole subnets measured together, interleaved. Returns a JSON-ready report."""
    from hwnat.backends.base import create_backend

    _require_local(req.target)
    space = req.space
    backend = backend or create_backend(req.target)
    identity = TargetIdentity.measured(req.target, backend)
    out = Path(req.out) if req.out is not None else default_table_path(req.target.name, space)
    existing = _reusable(out, identity, space, req.unit_mode)
    widths = (req.widths or ()) + (existing.widths if existing else ())
    resolutions = (req.resolutions or ()) + (existing.resolutions if existing else ())
    widths, resolutions = check_coverage(space, widths or None, resolutions or None)
    units = enumerate_units(space, widths, resolutions, req.target.batch)
    timing = block_timing(req)
    header = {"target": identity.to_dict(), "space": SpaceIdentity.of(space).to_dict(), "timing": asdict(timing),
              "passes": req.passes, "seed": req.seed, "mode": req.unit_mode}
    journal = Journal(journal_path(out), header)
    try:
        result = profile_units(backend, units, timing, passes=req.passes, journal=journal,
                               known=existing.entries if existing else None,
                               progress=req.progress, seed=req.seed, mode=req.unit_mode)
    finally:
        journal.close()
    profiling = {"mode": result.mode, "jobs": result.jobs, "timing_per_pass": asdict(timing), "passes": req.passes,
                 "units": len(units),
                 "reused_units": result.reused, "resumed_timings": result.resumed, "measured_timings": result.measured,
                 "wall_s": round(result.wall_s, 2), "pass_spread": result.pass_spread,
                 "timed_calls": int(sum(s.n for s in result.entries.values())), "load_avg": _load_avg()}
    changed = bool(result.measured or result.resumed)
    if existing and not changed:
        profiling = {**existing.profiling, "reused_all": True}
    kept = existing if existing and not changed else None  # a correction and scores fitted to other entries go
    table = LatencyTable(identity, SpaceIdentity.of(space), widths, resolutions, dict(result.entries),
                         kept.calibration if kept else Calibration(), profiling=profiling,
                         validation=kept.validation if kept else None)
    table.save(out)
    journal.remove()
    report: dict[str, Any] = {"table": str(out), "target": req.target.name, "space": space.name,
                              "variant": space.variant.name, "widths": list(widths),
                              "resolutions": list(resolutions), "profiling": profiling}
    n_cal = req.calibrate
    if n_cal is None:
        n_cal = DEFAULT_CALIBRATION_NETS if (changed or table.calibration.n == 0) else 0
    if n_cal or req.validate:
        report.update(_calibrate_and_validate(backend, table, space, n_cal, req))
        table.save(out)
    report["calibration"] = table.calibration.to_dict()
    if table.validation is not None:
        report["validation"] = table.validation
    return report


def _calibrate_and_validate(backend: Backend, table: LatencyTable, space: SearchSpace, n_cal: int,
                            req: ProfileRequest) -> dict[str, Any]:
    """Measure calibration and validation subnets together (interleaved), fit, then score the held-out ones.

    Paired measurements are on the scale of the reference subnet's speed in this run; the calibration stores it.
    Scoring a stored calibration (no calibration subnets), its predictions are first multiplied by the machine's
    speed now relative to then (reference now / reference then): the reference alone, never the scored subnets,
    sets that factor."""
    cal_seed, val_seed = np.random.SeedSequence(req.seed).spawn(2)
    cal = calibration_archs(space, n_cal, lambda g: table.raw_many(space, g)[0], int(cal_seed.generate_state(1)[0]),
                            table.widths, table.resolutions) if n_cal else []
    val = random_archs(space, req.validate, np.random.default_rng(val_seed), table.widths, table.resolutions,
                       exclude=[arch_id(space, a) for a in cal])
    timing = default_network_timing(req.target.timing, req.rounds)
    measured = measure_networks(backend, space, [*cal, *val], timing, seed=req.seed, progress=req.progress)
    ms = np.array([getattr(s, table.statistic) for s in measured])
    out: dict[str, Any] = {"network_timing": {"rounds": timing.rounds, "per_round": asdict(timing.per_round),
                                              "statistic": table.statistic}}
    if cal:
        raw, calls, widths, params = _inputs(table, space, cal)
        fit = fit_calibration(raw, calls, ms[: len(cal)], widths=widths, params_m=params)
        table.calibration = replace(fit, reference_ms=measured.scale_ms)
        out["calibration_nets"] = _rows(space, cal, raw, ms[: len(cal)])
    then, now = table.calibration.reference_ms, measured.scale_ms
    speed = now / then if then and now else 1.0
    if val:
        raw, calls, widths, params = _inputs(table, space, val)
        predicted = table.calibration.apply(raw, calls, widths, params) * speed
        measured_val = ms[len(cal):]
        p50 = np.array([s.p50_ms for s in measured[len(cal):]])
        table.validation = {**accuracy(predicted, measured_val), "statistic": table.statistic,
                            "raw": accuracy(raw, measured_val), "calibrated": accuracy(predicted, measured_val),
                            "calibrated_vs_measured_p50": accuracy(predicted, p50),
                            "calibration_model": table.calibration.model, "seed": req.seed, "rounds": timing.rounds,
                            "speed_factor": round(speed, 4), "load_avg": _load_avg()}
        out["validation_nets"] = _rows(space, val, raw, measured_val, predicted)
    return out


def _inputs(table: LatencyTable, space: SearchSpace,
            archs: list[Arch]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return table.calibration_inputs(space, np.stack([encode(space, a) for a in archs]))


def _rows(space: SearchSpace, archs: list[Arch], raw: np.ndarray, measured: np.ndarray,
          predicted: np.ndarray | None = None) -> list[dict[str, Any]]:
    rows = []
    for i, arch in enumerate(archs):
        row = {"arch_id": arch_id(space, arch), "raw_ms": round(float(raw[i]), 5),
               "measured_ms": round(float(measured[i]), 5)}
        if predicted is not None:
            row["predicted_ms"] = round(float(predicted[i]), 5)
        rows.append(row)
    return rows


def _load_avg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None
