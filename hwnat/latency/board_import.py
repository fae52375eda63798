"""Turn the timings.json a board returned into a latency table: unit entries (from the timings of their jobs, as a
local profile), the calibration fitted on the whole networks the board measured, the validation on the held-out
ones, and the board's runtime version and device."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat.errors import ConfigError, SpaceError
from hwnat.io import read_json
from hwnat.latency.blocks import Unit
from hwnat.latency.bundle import BundleError, check_manifest, read_manifest
from hwnat.latency.calibration import Calibration, fit_calibration
from hwnat.latency.identity import SpaceIdentity, TargetIdentity
from hwnat.latency.jobs import JobPlan, plan_jobs
from hwnat.latency.store import default_table_path
from hwnat.latency.table import LatencyTable
from hwnat.latency.timing import DEFAULT_STATISTIC, UnitTiming, combine_passes
from hwnat.latency.validation import accuracy
from hwnat.space.genome import encode, parse_arch_id

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec
    from hwnat.space.spec import SearchSpace

log = logging.getLogger(__name__)

TIMINGS_SCHEMA_VERSION = 3
SHOW_MISSING = 5
BOARD_KEYS = ("runtime", "runtime_version", "device_name", "host", "wall_s", "resumed_from")


def load_timings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A board's timings.json, checked for its schema and required keys (BundleError naming the file)."""
    data = read_json(path, "board timings", BundleError)
    if not isinstance(data, dict):
        raise BundleError(f"board timings {path} is corrupt: expected a JSON object")
    version = data.get("timings_schema_version")
    if version != TIMINGS_SCHEMA_VERSION:
        raise BundleError(f"board timings {path} have schema version {version!r}; this hwnat reads version "
                          f"{TIMINGS_SCHEMA_VERSION}: run the run.py shipped in a bundle of this hwnat")
    missing = [k for k in ("bundle_id", "runtime", "runtime_version", "device_name", "jobs", "networks")
               if k not in data]
    if missing:
        raise BundleError(f"board timings {path} are corrupt: missing key(s) {', '.join(missing)}")
    return data


def _manifest(timings: dict[str, Any], timings_path: Path, bundle: Any) -> dict[str, Any]:
    """The manifest given (bundle path or dict) or else the copy the runner embedded; their ids must agree."""
    if bundle is None:
        if "manifest" not in timings:
            raise BundleError(f"board timings {timings_path} carry no manifest: pass the bundle they came from")
        return check_manifest(timings["manifest"], f"the manifest embedded in {timings_path}")
    manifest = bundle if isinstance(bundle, dict) else read_manifest(bundle)
    if manifest["bundle_id"] != timings["bundle_id"]:
        raise BundleError(f"board timings {timings_path} were measured for bundle {timings['bundle_id'][:12]}, "
                          f"not {manifest['bundle_id'][:12]} ({bundle if not isinstance(bundle, dict) else 'given'}); "
                          f"import them with the bundle they came from")
    return manifest


def missing_entries(manifest: dict[str, Any], timings: dict[str, Any]) -> list[str]:
    """Job keys and network arch ids of the manifest that the timings lack, in manifest order."""
    jobs = [j["key"] for j in manifest["jobs"] if j["key"] not in timings["jobs"]]
    nets = [f"network {n['arch_id']}" for n in manifest["networks"] if n["arch_id"] not in timings["networks"]]
    return jobs + nets


def _check_complete(manifest: dict[str, Any], timings: dict[str, Any], path: Path) -> None:
    missing = missing_entries(manifest, timings)
    if missing:
        total = len(manifest["jobs"]) + len(manifest["networks"])
        more = f" and {len(missing) - SHOW_MISSING} more" if len(missing) > SHOW_MISSING else ""
        raise BundleError(f"board timings {path} lack {len(missing)} of {total} entries: "
                          f"{', '.join(missing[:SHOW_MISSING])}{more}; run `python3 run.py` in the bundle on the "
                          f"board again (it resumes from its journal) and import the new timings.json")


def _target(manifest: dict[str, Any], timings: dict[str, Any], path: Path, target: TargetSpec | None) -> TargetSpec:
    from hwnat.config.targets import TargetSpec

    settings = manifest["target"]["settings"]
    spec = TargetSpec.from_dict(settings, source=f"the bundle manifest of {path}")
    if target is not None and target.fingerprint() != spec.fingerprint():
        raise BundleError(f"board timings {path} were measured for target {spec.name!r} (settings fingerprint "
                          f"{spec.fingerprint()}), not {target.name!r} ({target.fingerprint()})")
    if timings["runtime"] != spec.runtime:
        raise BundleError(f"board timings {path} were measured with runtime {timings['runtime']!r}, but target "
                          f"{spec.name!r} uses {spec.runtime!r}: run run.py without --runtime")
    return spec


def _space(manifest: dict[str, Any], path: Path, space: SearchSpace | None) -> SearchSpace:
    from hwnat.space.presets import get_space

    wanted = SpaceIdentity.from_dict(manifest["space"])
    if space is None:
        try:
            space = get_space(wanted.name, variant=wanted.variant, num_classes=wanted.num_classes)
        except SpaceError as exc:
            raise BundleError(f"board timings {path}: the bundle's space {wanted.describe()} cannot be rebuilt "
                              f"here: {exc}") from exc
    if space.fingerprint != wanted.fingerprint:
        raise BundleError(f"board timings {path} were measured for space {wanted.describe()}, not "
                          f"{SpaceIdentity.of(space).describe()}")
    return space


def _measured(manifest: dict[str, Any], timings: dict[str, Any], role: str,
              statistic: str) -> tuple[list[str], np.ndarray]:
    """Arch ids of the networks of one role and their measured `statistic` (ms)."""
    nets = [n["arch_id"] for n in manifest["networks"] if n["role"] == role]
    values = [getattr(UnitTiming.from_dict(timings["networks"][a]), statistic) for a in nets]
    if any(v is None for v in values):
        raise BundleError(f"board timings lack the {statistic} of whole networks: use the run.py of a bundle "
                          f"written by this hwnat")
    return nets, np.array(values, dtype=np.float64)


def _rows(ids: list[str], raw: np.ndarray, measured: np.ndarray,
          predicted: np.ndarray | None = None) -> list[dict[str, Any]]:
    rows = []
    for i, arch in enumerate(ids):
        row = {"arch_id": arch, "raw_ms": round(float(raw[i]), 5), "measured_ms": round(float(measured[i]), 5)}
        if predicted is not None:
            row["predicted_ms"] = round(float(predicted[i]), 5)
        rows.append(row)
    return rows


def _inputs(table: LatencyTable, space: SearchSpace,
            ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return table.calibration_inputs(space, np.stack([encode(space, parse_arch_id(space, a)) for a in ids]))


def calibrate_from_board(table: LatencyTable, space: SearchSpace, manifest: dict[str, Any],
                         timings: dict[str, Any]) -> dict[str, Any]:
    """Fit the table's calibration on the board's calibration networks and score it on the validation ones."""
    out: dict[str, Any] = {}
    cal_ids, cal_ms = _measured(manifest, timings, "calibration", table.statistic)
    if len(cal_ids) >= 2:
        raw, calls, widths, params = _inputs(table, space, cal_ids)
        table.calibration = fit_calibration(raw, calls, cal_ms, widths=widths, params_m=params)
        out["calibration_nets"] = _rows(cal_ids, raw, cal_ms)
    elif cal_ids:
        log.warning("one calibration network is too few to fit a calibration; the table predicts the raw sum")
    val_ids, val_ms = _measured(manifest, timings, "validation", table.statistic)
    if len(val_ids) >= 2:
        raw, calls, widths, params = _inputs(table, space, val_ids)
        predicted = table.calibration.apply(raw, calls, widths, params)
        p50 = _measured(manifest, timings, "validation", "p50_ms")[1]
        net_timing = manifest["timing"]["networks"]
        table.validation = {**accuracy(predicted, val_ms), "statistic": table.statistic,
                            "raw": accuracy(raw, val_ms), "calibrated": accuracy(predicted, val_ms),
                            "calibrated_vs_measured_p50": accuracy(predicted, p50),
                            "calibration_model": table.calibration.model, "seed": net_timing.get("seed", 0),
                            "rounds": net_timing["rounds"], "source": "board"}
        out["validation_nets"] = _rows(val_ids, raw, val_ms, predicted)
    return out


def job_plan(manifest: dict[str, Any], path: Path) -> JobPlan:
    """The jobs of the manifest's units in its mode, planned again here; they must be the jobs the bundle holds."""
    try:
        units = [Unit.from_dict(u) for u in manifest["units"]]
        plan = plan_jobs(units, manifest["unit_mode"])
    except (KeyError, TypeError, ValueError, ConfigError, SpaceError) as exc:
        raise BundleError(f"the bundle of board timings {path} holds a malformed unit or mode: {exc!r}") from exc
    same_units = [u.key for u in units] == [u["key"] for u in manifest["units"]]
    if not same_units or [j.key for j in plan.jobs] != [j["key"] for j in manifest["jobs"]]:
        raise BundleError(f"the bundle of board timings {path} lists units or jobs this hwnat plans differently: "
                          f"import them with the hwnat that wrote the bundle")
    return plan


def _job_passes(manifest: dict[str, Any], timings: dict[str, Any], path: Path) -> dict[str, list[UnitTiming]]:
    """Per-pass timings of each job, already scaled by the speed probe on the board (one pass: the job's entry)."""
    per_pass = timings.get("job_passes") or {}
    try:
        return {j["key"]: [UnitTiming.from_dict(s) for s in per_pass.get(j["key"], [timings["jobs"][j["key"]]])]
                for j in manifest["jobs"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"board timings {path} hold a malformed entry: {exc!r}") from exc


def _spread(passes: dict[str, list[UnitTiming]]) -> float | None:
    """Median over jobs of (max − min) / median of their pass p50s (None with one pass)."""
    p50 = np.array([[s.p50_ms for s in row] for row in passes.values()])
    if p50.size == 0 or p50.shape[1] < 2:
        return None
    return float(np.median((p50.max(axis=1) - p50.min(axis=1)) / np.median(p50, axis=1)))


def table_from_timings(timings: dict[str, Any], manifest: dict[str, Any], space: SearchSpace, spec: TargetSpec,
                       path: Path) -> tuple[LatencyTable, dict[str, Any]]:
    """The calibrated table of complete board timings, and the per-network rows of the fit and the validation."""
    _check_complete(manifest, timings, path)
    identity = TargetIdentity(spec.name, spec.fingerprint(), spec.runtime, str(timings["runtime_version"]),
                              spec.device, str(timings["device_name"]), spec.precision, spec.threads, spec.batch,
                              bool(manifest["target"]["remote"]))
    plan = job_plan(manifest, path)
    passes = _job_passes(manifest, timings, path)
    entries = plan.entries({key: combine_passes(per_pass) for key, per_pass in passes.items()})
    lacking = [key for key, entry in entries.items() if getattr(entry, DEFAULT_STATISTIC) is None]
    if lacking:
        raise BundleError(f"board timings {path} lack the {DEFAULT_STATISTIC} of {len(lacking)} unit(s), e.g. "
                          f"{lacking[0]}: use the run.py of a bundle written by this hwnat")
    timing = manifest["timing"]["units"]
    n_passes = int(timing.get("passes", 1))
    profiling = {"source": "board", "bundle_id": manifest["bundle_id"], "mode": plan.mode, "jobs": len(plan.jobs),
                 "timing_per_pass": {k: v for k, v in timing.items() if k not in ("passes", "seed")},
                 "passes": n_passes, "units": len(entries), "measured_timings": len(plan.jobs) * n_passes,
                 "wall_s": timings.get("wall_s"), "pass_spread": _spread(passes),
                 "timed_calls": int(sum(s.n for s in entries.values())),
                 "board": {k: timings[k] for k in BOARD_KEYS if k in timings}}
    table = LatencyTable(target=identity, space=SpaceIdentity.of(space),
                         widths=tuple(float(w) for w in manifest["widths"]),
                         resolutions=tuple(int(r) for r in manifest["resolutions"]), entries=entries,
                         calibration=Calibration(), profiling=profiling)
    return table, calibrate_from_board(table, space, manifest, timings)


def import_timings(timings_path: str | os.PathLike[str], bundle: str | os.PathLike[str] | dict[str, Any] | None = None,
                   *, space: SearchSpace | None = None, target: TargetSpec | None = None,
                   out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Write the latency table of a board's timings.json (atomically; default latency_tables/) and return a
    JSON-ready report like build_table's. `bundle`: the bundle (or its manifest) when the timings lack theirs;
    `space`/`target`: checked against the bundle's (the space is rebuilt from its preset when not given)."""
    path = Path(timings_path)
    timings = load_timings(path)
    manifest = _manifest(timings, path, bundle)
    spec = _target(manifest, timings, path, target)
    space = _space(manifest, path, space)
    table, nets = table_from_timings(timings, manifest, space, spec, path)
    destination = Path(out) if out is not None else default_table_path(spec.name, space)
    try:
        table.save(destination)
    except OSError as exc:
        raise ConfigError(f"cannot write latency table {destination}: {exc.strerror}") from exc
    report: dict[str, Any] = {"table": str(destination), "target": spec.name, "space": space.name,
                              "variant": space.variant.name, "widths": list(table.widths),
                              "resolutions": list(table.resolutions), "profiling": table.profiling,
                              "calibration": table.calibration.to_dict(), **nets}
    if table.validation is not None:
        report["validation"] = table.validation
    return report
