"""Benchmark: archs per second of `complexity_many` (vectorised) and of per-arch `complexity`, on one core."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hwnat.complexity import complexity, complexity_many  # noqa: E402
from hwnat.complexity.vectorised import tables  # noqa: E402
from hwnat.space import decode, gene_bounds, get_space, list_spaces  # noqa: E402
from hwnat.space.spec import VARIANT_NAMES  # noqa: E402

GOAL_ARCHS_PER_S = 10_000


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_space(name: str, variant: str, n: int, n_single: int, repeats: int, seed: int) -> dict[str, Any]:
    space = get_space(name, variant=variant)
    lo, hi = gene_bounds(space)
    genomes = np.random.default_rng(seed).integers(lo, hi + 1, size=(n, space.genome_length))
    tables.cache_clear()
    start = time.perf_counter()
    complexity_many(space, genomes)
    warmup_s = time.perf_counter() - start
    vectorised_s = median_seconds(lambda: complexity_many(space, genomes), repeats)
    archs = [decode(space, g) for g in genomes[:n_single]]
    single_s = median_seconds(lambda: [complexity(space, a) for a in archs], repeats)
    return {
        "space": name,
        "variant": variant,
        "genomes": n,
        "warmup_with_tables_s": round(warmup_s, 4),
        "vectorised_median_s": round(vectorised_s, 4),
        "vectorised_archs_per_s": round(n / vectorised_s),
        "per_arch_archs": n_single,
        "per_arch_median_s": round(single_s, 4),
        "per_arch_archs_per_s": round(n_single / single_s),
        "speedup": round((n / vectorised_s) / (n_single / single_s), 1),
        "meets_goal": n / vectorised_s >= GOAL_ARCHS_PER_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--space", action="append", choices=list_spaces(),
                        help="search space (repeatable; default: every preset)")
    parser.add_argument("--variant", default="ee-dense-parallel", choices=list(VARIANT_NAMES))
    parser.add_argument("-n", "--genomes", type=int, default=100_000, help="random genomes per space")
    parser.add_argument("--per-arch", type=int, default=2_000, help="archs timed with per-arch `complexity`")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = [bench_space(name, args.variant, args.genomes, min(args.per_arch, args.genomes), args.repeats,
                           args.seed) for name in (args.space or list_spaces())]
    if args.json:
        print(json.dumps({"goal_archs_per_s": GOAL_ARCHS_PER_S, "threads": torch.get_num_threads(),
                          "results": results}, indent=2))
    else:
        print(f"{'space':<18} {'variant':<18} {'vectorised/s':>14} {'per-arch/s':>11} {'speedup':>8} "
              f"{'tables s':>9}  goal {GOAL_ARCHS_PER_S:,}/s")
        for r in results:
            print(f"{r['space']:<18} {r['variant']:<18} {r['vectorised_archs_per_s']:>14,} "
                  f"{r['per_arch_archs_per_s']:>11,} {r['speedup']:>7}x {r['warmup_with_tables_s']:>9}  "
                  f"{'ok' if r['meets_goal'] else 'MISSED'}")
    return 0 if all(r["meets_goal"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
