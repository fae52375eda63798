"""Benchmark the search overhead per iteration: predictor fit, NSGA, subset selection (no subnet evaluation).

    python tools/bench_search_overhead.py                    # NATv2 defaults: archive 300, pop 100, 20 generations
    python tools/bench_search_overhead.py --iterations 5 --objectives error,latency,params
    python tools/bench_search_overhead.py --algorithm nat    # NAT's predictor (adaptive switching), growing archive

Uses the deterministic synthetic evaluator and a synthetic latency callable on the small-input space (w0.5), so
only the search machinery is timed. Goal: ≤ 10 s per iteration on 2 cores. Prints a table, and JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwnat.search import make_config, run_search
from hwnat.search.evaluator import SyntheticEvaluator, SyntheticLatency
from hwnat.space import get_space

GOAL_S = 10.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algorithm", default="natv2", choices=("natv2", "nat"))
    ap.add_argument("--objectives", default="error,latency")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--archive-size", type=int, default=300)
    ap.add_argument("--pop-size", type=int, default=100)
    ap.add_argument("--generations", type=int, default=20)
    ap.add_argument("--predictor", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures to this JSON file.")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads while predictors fit/predict (hwnat.search.loop.BLAS_THREADS; 0: default)")
    args = ap.parse_args(argv)
    import hwnat.search.loop as search_loop

    search_loop.BLAS_THREADS = args.blas_threads or None

    space = get_space("mbv3-small-input")
    cfg = make_config("paper", args.algorithm, objectives=tuple(args.objectives.split(",")),
                      iterations=args.iterations, archive_size=args.archive_size, pop_size=args.pop_size,
                      generations=args.generations, predictor=args.predictor, seed=args.seed, width_mult=0.5,
                      adapt=False)  # adaptation is not search overhead (and needs a super-network)
    t0 = time.perf_counter()
    result = run_search(cfg, SyntheticEvaluator(space, seed=args.seed), space, latency=SyntheticLatency(space))
    wall = time.perf_counter() - t0
    rows = result.history[1:]
    per_iter = [r["time_fit_s"] + r["time_nsga_s"] + r["time_select_s"] for r in rows]
    print(f"search overhead, {cfg.algorithm} ({cfg.predictor}), objectives {','.join(cfg.objectives)}, "
          f"archive {cfg.archive_size}, pop {cfg.pop_size}, {cfg.generations} generations, K {cfg.candidates}")
    print(f"{'iter':>4} {'archive':>7} {'fit s':>7} {'nsga s':>7} {'select s':>8} {'total s':>8} {'kendall':>8}")
    for r, tot in zip(rows, per_iter):
        tau = "-" if r.get("kendall") is None else f"{r['kendall']:.3f}"
        print(f"{r['iteration']:>4} {r['archive_size']:>7} {r['time_fit_s']:>7.3f} {r['time_nsga_s']:>7.3f} "
              f"{r['time_select_s']:>8.4f} {tot:>8.3f} {tau:>8}")
    median = statistics.median(per_iter) if per_iter else float("nan")
    verdict = "✅" if median <= GOAL_S else "❌"
    print(f"median overhead per iteration: {median:.3f} s (goal ≤ {GOAL_S:.0f} s) {verdict}; "
          f"wall incl. initialisation: {wall:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"config": cfg.to_dict(), "rows": rows, "overhead_s": per_iter,
                                         "median_overhead_s": median, "wall_s": wall}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
