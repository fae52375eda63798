"""Ablation benchmark: NATv2 vs NAT vs random search vs NSGA-II without a predictor, same evaluation budget.

    python tools/bench_search.py --supernet runs/cifar-w05/supernet.pt --data ../shared/datasets/cifar10/train.tar.gz \\
        --target ort-cpu --budget 380 --seeds 0,1,2 --out runs/bench-search
    python tools/bench_search.py --synthetic --budget 200          # no super-network: synthetic error and latency

Every method gets `--budget` new subnet evaluations (error measured on the super-network: extracted,
BN-recalibrated, validation accuracy) on (error, latency) from the target's table:
- natv2: NATv2 (natv2 init, pre-processing ×`--preprocess`, fixed archive, LightGBM), `--archive` members;
- nat: NAT (nat init, growing archive, adaptive predictor, supernet adaptation every iteration as in its preset;
  `--nat-no-adapt` turns adaptation off). Its re-evaluations of the archive after each adaptation are not
  counted in the budget (they are reported); its HV is also given with its final front re-measured on the
  original weights (`hv_original`), since adaptation trains the super-network further;
- random: uniform genomes, every one evaluated;
- nsga2: NSGA-II evolving on measured error (no surrogate), population `--nsga-pop`, until the budget is spent.
Hypervolume: normalised by fixed bounds shared by all runs (error: 0 to the min arch's error; latency: the min
and max arch's), reference point 1.1. Reports the median over seeds of HV after n evaluations, and the final HV
(mean ± std, median) with the ranking by median; `--json FILE` writes everything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwnat.search import make_config, run_search
from hwnat.search.adapt import SyntheticAdapter
from hwnat.search.evaluator import SyntheticEvaluator, SyntheticLatency
from hwnat.search.loop import ARCHIVE_LOG
from hwnat.search.metrics import hypervolume
from hwnat.search.objectives import ExactObjectives
from hwnat.search.operators import extreme_genomes, search_bounds, unique_sample
from hwnat.space.spec import SearchSpace

OBJECTIVES = ("error", "latency")
RECORD = "record.json"  # one run's figures, in its folder


@dataclass
class Setup:
    """What every run shares: the space, bounds, latency, HV bounds, and how to get a fresh evaluator/adapter."""

    space: SearchSpace
    lo: np.ndarray
    hi: np.ndarray
    width: float
    latency: Callable[[np.ndarray], np.ndarray]
    fresh: Callable[[], Any]  # a new evaluator on the original weights
    adapter: Callable[[Any, Any], Any]  # (evaluator, config) -> Adapter
    args: argparse.Namespace
    resolutions: tuple[int, ...] | None = None
    ideal: np.ndarray = field(default_factory=lambda: np.zeros(2))
    nadir: np.ndarray = field(default_factory=lambda: np.ones(2))

    def F(self, genomes: np.ndarray, error: np.ndarray) -> np.ndarray:
        return np.column_stack([error, np.asarray(self.latency(genomes), dtype=np.float64)])

    def hv(self, genomes: np.ndarray, error: np.ndarray) -> float:
        return hypervolume(self.F(genomes, error), self.ideal, self.nadir) if len(genomes) else 0.0


@dataclass
class RunLog:
    """One run: its evaluations in order (genome, error, re-evaluation?), wall time and extra figures."""

    rows: list[tuple[np.ndarray, float, bool]]
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)


# -- methods ---------------------------------------------------------------------------------------------
def _loop(setup: Setup, seed: int, algorithm: str, out: Path) -> RunLog:
    a = setup.args
    overrides: dict[str, Any] = {"archive_size": a.archive, "candidates": a.candidates, "seed": seed,
                                 "width_mult": setup.width, "pop_size": a.pop, "generations": a.generations,
                                 "resolutions": setup.resolutions}
    if algorithm == "natv2":
        overrides["preprocess_factor"] = a.preprocess
        initial = a.archive * max(1, a.preprocess)
    else:
        overrides["adapt"] = not a.nat_no_adapt
        initial = a.archive
    overrides["iterations"] = max(0, (a.budget - initial) // a.candidates)
    cfg = make_config(a.preset, algorithm, objectives=OBJECTIVES, **overrides)
    evaluator = setup.fresh()
    adapter = setup.adapter(evaluator, cfg) if cfg.adapt else None
    t0 = time.perf_counter()
    result = run_search(cfg, evaluator, setup.space, latency=setup.latency, out=out, adapter=adapter)
    wall = time.perf_counter() - t0
    rows = [(np.asarray(r["genome"], dtype=np.int64), float(r["error"]), bool(r.get("reevaluated")))
            for r in (json.loads(line) for line in (out / ARCHIVE_LOG).read_text().splitlines())]
    extra: dict[str, Any] = {"iterations": cfg.iterations, "reevaluations": sum(r[2] for r in rows),
                             "adapt_s": round(sum(h.get("time_adapt_s", 0.0) for h in result.history), 1)}
    if cfg.adapt:  # the final front re-measured on the original weights
        front = result.front.genomes
        extra["hv_original"] = setup.hv(front, np.asarray(setup.fresh().evaluate(front), dtype=np.float64))
    return RunLog(rows, wall, extra)


def natv2(setup: Setup, seed: int, out: Path) -> RunLog:
    return _loop(setup, seed, "natv2", out)


def nat(setup: Setup, seed: int, out: Path) -> RunLog:
    return _loop(setup, seed, "nat", out)


def random_search(setup: Setup, seed: int, out: Path) -> RunLog:
    rng = np.random.default_rng(seed)
    genomes = unique_sample(setup.space, "uniform", setup.args.budget, rng, setup.lo, setup.hi)
    evaluator = setup.fresh()
    t0 = time.perf_counter()
    errors = np.concatenate([np.asarray(evaluator.evaluate(genomes[i:i + 64]), dtype=np.float64)
                             for i in range(0, len(genomes), 64)])
    return RunLog([(g, float(e), False) for g, e in zip(genomes, errors)], time.perf_counter() - t0)


def nsga2_direct(setup: Setup, seed: int, out: Path) -> RunLog:
    """NSGA-II on measured errors: every new genome the population meets is evaluated on the super-network, until
    the budget is spent (genomes met after that get the worst error without an evaluation; the generation count
    only guarantees the budget gets spent)."""
    from hwnat.search.optimizer import run_nsga
    from hwnat.search.problem import GenomeProblem

    a, evaluator = setup.args, setup.fresh()
    rows: list[tuple[np.ndarray, float, bool]] = []
    cache: dict[bytes, float] = {}

    def measured(g: np.ndarray) -> np.ndarray:
        new = [row for row in dict.fromkeys(r.tobytes() for r in g) if row not in cache]
        for row in new[max(0, a.budget - len(rows)):]:  # past the budget: never evaluated, worst error
            cache[row] = 1.0
        new = new[: max(0, a.budget - len(rows))]
        if new:
            fresh = np.frombuffer(b"".join(new), dtype=np.int64).reshape(len(new), -1)
            for row, err in zip(fresh, np.asarray(evaluator.evaluate(fresh), dtype=np.float64)):
                cache[row.tobytes()] = float(err)
                rows.append((row.copy(), float(err), False))
        return np.array([cache[r.tobytes()] for r in g])

    problem = GenomeProblem(ExactObjectives(setup.space, setup.latency), OBJECTIVES, {}, measured, setup.lo,
                            setup.hi)
    initial = unique_sample(setup.space, "uniform", a.nsga_pop, np.random.default_rng(seed), setup.lo, setup.hi)
    t0 = time.perf_counter()
    run_nsga(problem, setup.space, initial, a.nsga_pop, -(-a.budget // a.nsga_pop) + 2, seed)
    return RunLog(rows, time.perf_counter() - t0)


METHODS: dict[str, Callable[[Setup, int, Path], RunLog]] = {
    "natv2": natv2, "nat": nat, "random": random_search, "nsga2": nsga2_direct}


# -- hypervolume against evaluations ------------------------------------------------------------------------
def curve(setup: Setup, log: RunLog, grid: list[int]) -> list[float]:
    """HV of what is known after n new evaluations (a genome's latest error counts: re-evaluations after an
    adaptation replace earlier errors), for each n in `grid`."""
    latest: dict[bytes, tuple[np.ndarray, float]] = {}

    def hv_now() -> float:
        pts = list(latest.values())
        return setup.hv(np.array([p[0] for p in pts]), np.array([p[1] for p in pts])) if pts else 0.0

    out: list[float] = []
    n = 0
    for g, err, reevaluated in log.rows:
        if not reevaluated:
            while len(out) < len(grid) and n >= grid[len(out)]:
                out.append(hv_now())
            n += 1
        latest[g.tobytes()] = (g, err)
    while len(out) < len(grid):
        out.append(hv_now())
    return out


def build_setup(args: argparse.Namespace) -> Setup:
    if args.synthetic:
        from hwnat.space import get_space

        space = get_space("mbv3-small-input")
        latency: Any = SyntheticLatency(space)
        width = 0.5
        fresh = lambda: SyntheticEvaluator(space, seed=0, delay_s=args.delay)
        adapter = lambda ev, cfg: SyntheticAdapter(ev, top_n=cfg.adapt_top_n)
    else:
        from hwnat.search.supernet_eval import supernet_adapter, supernet_evaluator

        fresh = lambda: supernet_evaluator(args.supernet, args.data, device=args.device,
                                           val_images=args.val_images)
        probe = fresh()
        space, width = probe.space, float(probe.supernet.width_mult)
        first = [probe]
        fresh_ = fresh
        fresh = lambda: first.pop() if first else fresh_()
        adapter = supernet_adapter
        if args.target == "synthetic":
            latency = SyntheticLatency(space)
        else:
            from hwnat.cli.profile_cmd import load_target_option
            from hwnat.latency.store import find_table
            from hwnat.search.objectives import table_latency

            latency = table_latency(find_table(load_target_option(args.target), space), space)
    resolutions = tuple(int(r) for r in args.resolutions.split(",")) if args.resolutions else None
    lo, hi = search_bounds(space, width, resolutions)
    setup = Setup(space, lo, hi, width, latency, fresh, adapter, args, resolutions)
    ends = extreme_genomes(space, lo, hi)
    lat = np.asarray(latency(ends), dtype=np.float64)
    min_err = float(np.asarray(fresh().evaluate(ends[:1]), dtype=np.float64)[0])
    setup.ideal, setup.nadir = np.array([0.0, lat[0]]), np.array([max(min_err, 1e-6), lat[1]])
    return setup


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--supernet", type=Path, help="supernet.pt written by hwnat train-supernet")
    src.add_argument("--synthetic", action="store_true", help="synthetic evaluator and latency (no network)")
    ap.add_argument("--data", default="digits", help="the dataset the super-network was trained on")
    ap.add_argument("--target", default="ort-cpu", help="latency table's target, or 'synthetic'")
    ap.add_argument("--methods", default="natv2,nat,random,nsga2")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", type=int, default=380, help="new subnet evaluations per run")
    ap.add_argument("--archive", type=int, default=100, help="archive size (NAT's initial archive)")
    ap.add_argument("--preprocess", type=int, default=3, help="NATv2 pre-processing factor")
    ap.add_argument("--candidates", type=int, default=8, help="K, candidates per iteration")
    ap.add_argument("--pop", type=int, default=50, help="NSGA population inside NAT/NATv2")
    ap.add_argument("--generations", type=int, default=10, help="NSGA generations inside NAT/NATv2")
    ap.add_argument("--nsga-pop", type=int, default=40, help="population of the predictor-free NSGA-II")
    ap.add_argument("--preset", default="quick", help="search preset for the other settings (adaptation sizes)")
    ap.add_argument("--nat-no-adapt", action="store_true", help="NAT without supernet adaptation")
    ap.add_argument("--val-images", type=int, default=0, help="validation images per evaluation (0 = all)")
    ap.add_argument("--resolutions", default=None,
                    help="restrict the resolution gene, e.g. 32 for a supernet trained at 32 px only")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--delay", type=float, default=0.0, help="synthetic evaluator: seconds per call")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--points", type=int, default=8, help="evaluation counts in the HV table")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-search"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="take runs already finished in --out (their record.json) instead of running them again; "
                         "run one process per seed with the same --out, then once more with all seeds to report")
    args = ap.parse_args(argv)
    if args.threads and not args.synthetic:
        import torch

        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown methods {unknown}; allowed: {', '.join(METHODS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    setup = build_setup(args)
    step = max(1, args.budget // args.points)
    grid = sorted({*range(step, args.budget, step), args.budget})
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for seed in seeds:  # interleave methods within each seed (shared, noisy machine)
        for m in methods:
            out = args.out / f"{m}-s{seed}"
            record = out / RECORD
            if args.reuse and record.is_file():  # a run finished earlier (e.g. by a process per seed)
                results[m].append(json.loads(record.read_text()))
                continue
            if out.exists():
                import shutil

                shutil.rmtree(out)
            log = METHODS[m](setup, seed, out)
            hv = curve(setup, log, grid)
            rec = {"seed": seed, "evaluations": sum(not r[2] for r in log.rows), "hv_curve": hv, "final_hv": hv[-1],
                   "wall_s": round(log.wall_s, 1), **log.extra}
            out.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps(rec) + "\n")
            results[m].append(rec)
            print(f"[{m} seed {seed}] HV {hv[-1]:.4f} after {rec['evaluations']} evaluations, "
                  f"{log.wall_s:.0f} s {log.extra or ''}", file=sys.stderr, flush=True)
    report(setup, args, methods, grid, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "source": "synthetic" if args.synthetic else {"supernet": str(args.supernet), "data": args.data,
                                                           "target": args.target},
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "hv_bounds": {"ideal": setup.ideal.tolist(), "nadir": setup.nadir.tolist()}, "grid": grid,
            "results": results}, indent=2) + "\n")
    return 0


def report(setup: Setup, args: argparse.Namespace, methods: list[str], grid: list[int],
           results: dict[str, list[dict[str, Any]]]) -> None:
    print(f"hypervolume (error, latency) against evaluations, median over {len(args.seeds.split(','))} seeds")
    print("| evaluations | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    for i, n in enumerate(grid):
        cells = [f"{statistics.median(r['hv_curve'][i] for r in results[m]):.4f}" for m in methods]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print()
    finals = {m: [r["final_hv"] for r in results[m]] for m in methods}
    ranking = sorted(methods, key=lambda m: -statistics.median(finals[m]))
    print("| rank | method | final HV mean ± std | median | min–max | wall s (median) | extra |")
    print("|---|---|---|---|---|---|---|")
    for rank, m in enumerate(ranking, 1):
        v = finals[m]
        std = statistics.stdev(v) if len(v) > 1 else 0.0
        extra = ""
        if any("hv_original" in r for r in results[m]):
            extra = (f"HV on original weights {statistics.mean(r['hv_original'] for r in results[m]):.4f}; "
                     f"{statistics.median(r['reevaluations'] for r in results[m]):.0f} re-evaluations")
        print(f"| {rank} | {m} | {statistics.mean(v):.4f} ± {std:.4f} | {statistics.median(v):.4f} | "
              f"{min(v):.4f}–{max(v):.4f} | {statistics.median(r['wall_s'] for r in results[m]):.0f} | {extra} |")


if __name__ == "__main__":
    raise SystemExit(main())
