"""Benchmark aid: how a super-network's validation error falls with subnet size, from a build's accuracy cache.

    python tools/accuracy_by_macs.py runs/bench-build/cache/evaluations/3e6721be57806804.jsonl \
        --edges 15,20,25,30,35,40,50 [--space mbv3-small-input]

Every subnet any build's search scored on one super-network is in its accuracy cache (`CACHE/evaluations/`).
This groups them by MACs (bins between the `--edges`, in millions) and prints, per bin, how many were scored and
their best and median validation error, with the best subnet's id. Where the best error stops falling, a larger
budget buys no accuracy the search can see, and the builds' selections do not use it. The genomes are read in the
search space the cache's header names; `--space` is needed only for a cache written before headers named it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def error_by_macs(cache: Path, space_name: str | None, edges_m: list[float]) -> list[dict[str, object]]:
    """One row per MACs bin holding scored subnets: bin bounds (M), count, best and median error, best subnet.
    `space_name` (--space) may be None where the cache's header names its space; given, it must agree."""
    from hwnat.complexity import complexity_many
    from hwnat.errors import HwnatError
    from hwnat.search.eval_cache import read_cache
    from hwnat.space import get_space
    from hwnat.space.genome import arch_id, decode

    header, scores, _ = read_cache(cache)
    recorded = header.get("space")
    if recorded is None and space_name is None:
        raise HwnatError(f"evaluation cache {str(cache)!r} does not name its search space (written before "
                         "headers named it): give --space")
    if recorded is not None and space_name not in (None, recorded):
        raise HwnatError(f"evaluation cache {str(cache)!r} holds genomes of space {recorded!r}, not of "
                         f"--space {space_name!r}")
    space_name = space_name or recorded
    space = get_space(space_name)
    if not scores:
        raise HwnatError(f"evaluation cache {str(cache)!r} holds no scores")
    genomes = np.array(list(scores), dtype=np.int64)
    try:
        if genomes.shape[1] != space.genome_length:
            raise HwnatError(f"{genomes.shape[1]} genes, the space's genomes have {space.genome_length}")
        macs = complexity_many(space, genomes)[0] / 1e6
    except HwnatError as exc:
        raise HwnatError(f"evaluation cache {str(cache)!r} holds genomes not of --space {space_name!r}: {exc}") from exc
    errors = np.array(list(scores.values()))
    bounds = [0.0, *sorted(edges_m), float("inf")]
    rows = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        inside = np.flatnonzero((macs >= lo) & (macs < hi))
        if len(inside):
            best = inside[np.argmin(errors[inside])]
            rows.append({"from_m": lo, "to_m": hi, "subnets": len(inside), "best": float(errors[best]),
                         "median": float(np.median(errors[inside])), "best_macs_m": float(macs[best]),
                         "best_arch": arch_id(space, decode(space, genomes[best]))})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="an accuracy cache (.jsonl) under a build cache's evaluations/")
    parser.add_argument("--space", default=None,
                        help="the search space its genomes belong to (default: the one the cache's header names)")
    parser.add_argument("--edges", default="15,20,25,30,35,40,50", help="MACs bin edges, in millions")
    args = parser.parse_args(argv)
    from hwnat.errors import HwnatError

    try:
        edges = [float(v) for v in args.edges.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--edges {args.edges!r}: give numbers separated by commas, e.g. 15,20,25")
    try:
        rows = error_by_macs(args.cache, args.space, edges)
    except (HwnatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("| MACs | subnets | best error | median error | best subnet (MACs) |")
    print("|---|---|---|---|---|")
    for r in rows:
        span = f"{r['from_m']:g}–{r['to_m']:g}M" if r["to_m"] != float("inf") else f"≥ {r['from_m']:g}M"
        print(f"| {span} | {r['subnets']} | {r['best']:.2%} | {r['median']:.2%} | "
              f"{r['best_arch']} ({r['best_macs_m']:.1f}M) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
