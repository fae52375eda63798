"""Benchmark: build the shipped latency tables (profiling wall time, measurements) and validate them end to end.

For each target (default ort-cpu and openvino-cpu) it profiles every unit of the small-input preset at the
chosen widths, calibrates on 30 whole subnets and validates on 100 held-out random subnets measured end to end
(calibration and validation subnets interleaved), writing the table into latency_tables/. `--tradeoff`
instead compares per-unit measuring times on one target: a table per setting, all scored against one shared,
interleaved measurement of the same calibration and validation subnets.

    python tools/bench_latency_tables.py                       # the shipped tables, all widths
    python tools/bench_latency_tables.py --widths 0.5 --targets ort-cpu --out-dir /tmp/tables
    python tools/bench_latency_tables.py --tradeoff 0.03,0.06,0.2 --targets ort-cpu --widths 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_WITHIN_10PCT = 0.95
GOAL_SPEARMAN = 0.95
GOAL_PROFILE_S = 600.0


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def predict_speed(table_path: str, n: int, seed: int) -> dict[str, Any]:
    """Archs per second of LatencyTable.predict_many on n random genomes (lookup tables built first, timed apart)."""
    import numpy as np

    from hwnat.latency.table import LatencyTable
    from hwnat.space import gene_bounds, get_space

    table = LatencyTable.load(table_path)
    space = get_space(table.space.name, variant=table.space.variant, num_classes=table.space.num_classes)
    lo, hi = gene_bounds(space)
    genomes = np.random.default_rng(seed).integers(lo, hi + 1, size=(n, space.genome_length))
    genomes[:, 1] = np.random.default_rng(seed).choice([space.width_mults.index(w) for w in table.widths], size=n)
    start = time.perf_counter()
    table.positions(space)
    build_s = time.perf_counter() - start
    times = []
    for _ in range(5):
        start = time.perf_counter()
        table.predict_many(space, genomes)
        times.append(time.perf_counter() - start)
    best = sorted(times)[len(times) // 2]
    return {"archs": n, "lookup_build_s": round(build_s, 3), "median_s": round(best, 4),
            "archs_per_s": round(n / best), "meets_50k_goal": n / best >= 50_000}


def bench_target(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Profile, calibrate and validate one target; the summary row of the results."""
    from hwnat.backends.registry import target_availability
    from hwnat.config.targets import load_target
    from hwnat.latency.build import ProfileRequest, build_table
    from hwnat.latency.store import table_filename
    from hwnat.space import get_space

    spec = load_target(name)
    ok, reason = target_availability(spec)
    if not ok:
        return {"target": name, "skipped": reason}
    space = get_space(args.space, variant=args.variant)
    out = Path(args.out_dir) / table_filename(name, space)
    load_before = _load()
    start = time.perf_counter()
    report = build_table(ProfileRequest(spec, space, args.widths, None, out, args.calibrate, args.validate, args.seed,
                                        args.min_time, args.passes, args.rounds, progress=not args.quiet))
    total = time.perf_counter() - start
    prof, val = report["profiling"], report.get("validation") or {}
    cal = val.get("calibrated", {})
    return {
        "target": name,
        "table": str(out),
        "widths": report["widths"],
        "units": prof["units"],
        "passes": prof["passes"],
        "measured_timings": prof["measured_timings"],
        "timed_calls": prof["timed_calls"],
        "profile_wall_s": prof["wall_s"],
        "total_wall_s": round(total, 1),
        "pass_spread": prof["pass_spread"],
        "calibration": report["calibration"],
        "validation": val,
        "load_avg_before": load_before,
        "load_avg_after": _load(),
        "predict_many": predict_speed(str(out), args.predict_n, args.seed),
        "calibration_nets": report.get("calibration_nets", []),
        "validation_nets": report.get("validation_nets", []),
        "goals": {
            "within_10pct": cal.get("within_10pct", 0) >= GOAL_WITHIN_10PCT,
            "spearman": cal.get("spearman", 0) >= GOAL_SPEARMAN,
            "profile_under_10_min": prof["wall_s"] < GOAL_PROFILE_S,
        },
    }


def bench_tradeoff(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One table per per-unit measuring time, scored on one shared measurement of the same subnets."""
    import numpy as np

    from hwnat.backends.base import create_backend
    from hwnat.config.targets import load_target
    from hwnat.latency.build import ProfileRequest, build_table
    from hwnat.latency.calibration import fit_calibration
    from hwnat.latency.networks import default_network_timing, measure_networks
    from hwnat.latency.selection import calibration_archs, random_archs
    from hwnat.latency.table import LatencyTable
    from hwnat.latency.validation import accuracy
    from hwnat.space import arch_id, encode, get_space

    spec = load_target(name)
    backend = create_backend(spec)
    space = get_space(args.space, variant=args.variant)
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for min_time in args.tradeoff:
            req = ProfileRequest(spec, space, args.widths, None, Path(tmp) / f"{min_time}.json", 0, 0, args.seed,
                                 min_time, args.passes, args.rounds, progress=not args.quiet)
            report = build_table(req, backend)
            tables.append((min_time, report["profiling"], LatencyTable.load(report["table"])))
    first = tables[0][2]
    cal = calibration_archs(space, args.calibrate, lambda g: first.raw_many(space, g)[0], args.seed,
                            first.widths, first.resolutions)
    val = random_archs(space, args.validate, np.random.default_rng(args.seed + 1), first.widths, first.resolutions,
                       exclude=[arch_id(space, a) for a in cal])
    measured = measure_networks(backend, space, [*cal, *val], default_network_timing(spec.timing, args.rounds),
                                seed=args.seed, progress=not args.quiet)
    ms = np.array([getattr(s, first.statistic) for s in measured])
    rows = []
    for min_time, prof, table in tables:
        genomes = np.stack([encode(space, a) for a in [*cal, *val]])
        raw, calls, widths, params = table.calibration_inputs(space, genomes)
        c = len(cal)
        fit = fit_calibration(raw[:c], calls[:c], ms[:c], widths=widths[:c], params_m=params[:c])
        score = accuracy(fit.apply(raw[c:], calls[c:], widths[c:], params[c:]), ms[c:])
        rows.append({"target": name, "min_time_s_per_unit": min_time, "passes": prof["passes"],
                     "profile_wall_s": prof["wall_s"], "units": prof["units"], "pass_spread": prof["pass_spread"],
                     "calibration": fit.model, "validation": score, "load_avg": _load()})
    return rows


def compare_runs(first: str, second: str) -> list[dict[str, Any]]:
    """Repeatability: the subnets both results files measured (same seed, same subnets), per target: the median
    and spread (std of the log ratio) of second/first for the measured latency and for the table's raw sum."""
    import numpy as np

    def nets(path: str) -> dict[str, dict[str, dict[str, Any]]]:
        data = json.loads(Path(path).read_text())
        return {r["target"]: {n["arch_id"]: n for n in r.get("calibration_nets", []) + r.get("validation_nets", [])}
                for r in data["results"]}

    a, b = nets(first), nets(second)
    rows = []
    for target in a.keys() & b.keys():
        common = [k for k in a[target] if k in b[target]]
        if not common:
            continue
        row: dict[str, Any] = {"target": target, "subnets": len(common)}
        for key in ("measured_ms", "raw_ms"):
            ratio = np.log([b[target][k][key] / a[target][k][key] for k in common])
            row[key] = {"median_ratio": round(float(np.exp(np.median(ratio))), 3),
                        "std_log_ratio": round(float(ratio.std()), 4)}
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="ort-cpu,openvino-cpu")
    parser.add_argument("--space", default="mbv3-small-input")
    parser.add_argument("--variant", default="base")
    parser.add_argument("--widths", type=_floats, default=None, help="default: all of the space's")
    parser.add_argument("--min-time", type=float, default=0.06, help="measuring seconds per unit over all passes")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--calibrate", type=int, default=30)
    parser.add_argument("--validate", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=str(Path(__file__).resolve().parents[1] / "latency_tables"))
    parser.add_argument("--tradeoff", type=_floats, default=None, metavar="S,...",
                        help="compare these per-unit measuring times instead (tables go to a temp folder)")
    parser.add_argument("--predict-n", type=int, default=100_000, help="genomes for the predict_many speed test")
    parser.add_argument("--results", default=None, metavar="FILE", help="also write the results JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--compare", nargs=2, default=None, metavar=("FIRST.json", "SECOND.json"),
                        help="only compare two --results files: how the same subnets' measured latency and raw "
                             "table sums moved between the runs")
    args = parser.parse_args()
    if args.compare:
        print(json.dumps(compare_runs(*args.compare), indent=1))
        return 0
    targets = [t for t in args.targets.split(",") if t]
    results: list[dict[str, Any]] = []
    for name in targets:
        rows = bench_tradeoff(name, args) if args.tradeoff else [bench_target(name, args)]
        for row in rows:
            results.append(row)
            print(json.dumps({k: v for k, v in row.items() if not k.endswith("_nets")}), file=sys.stderr, flush=True)
    text = json.dumps({"cpus": os.cpu_count(), "results": results}, indent=1)
    print(text)
    if args.results:
        Path(args.results).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
