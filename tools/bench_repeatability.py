"""Benchmark: how repeatable a target's end-to-end latency is, timed alone and paired with a reference subnet.

    python tools/bench_repeatability.py --target openvino-cpu --subnets 12 --compilations 12

Random subnets of the small-input space (all widths and resolutions, seeded) are exported once; each round
compiles every subnet afresh, in a shuffled order, and times it twice with the per-round settings that table
validation uses: alone, back to back (how budgets are checked), then paired (bursts alternating with the space's
reference subnet, scaled by the reference's speed in the same window: how latency tables time networks,
hwnat.latency.networks.time_paired). Per subnet and method it prints each compilation's p10 relative to the
subnet's median; per method, how many compilations came out more than 15% off their subnet's median, the
spread (std of the log ratio to the median), and how often two medians of --group rounds each agree within
±10% (what a table's validation compares against). This is the noise floor any latency predictor is scored
against.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OUTLIER = 0.15


def spread(p10: np.ndarray, group: int) -> dict[str, Any]:
    """Outliers, std of log(p10 / subnet median) and agreement of medians over disjoint groups of rounds."""
    rel = p10 / np.median(p10, axis=1, keepdims=True)
    pairs = [np.median(p10[:, s:s + group], axis=1) / np.median(p10[:, s + group:s + 2 * group], axis=1)
             for s in range(0, p10.shape[1] - 2 * group + 1, 2 * group)]
    ratios = np.concatenate(pairs) if pairs else np.array([])
    return {"fast": int((rel < 1 - OUTLIER).sum()), "slow": int((rel > 1 + OUTLIER).sum()),
            "std_log": round(float(np.log(rel).std()), 4),
            "group_pairs": int(ratios.size),
            "groups_within_10pct": round(float(np.mean(np.abs(ratios - 1) <= 0.10)), 3) if ratios.size else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="openvino-cpu")
    ap.add_argument("--space", default="mbv3-small-input")
    ap.add_argument("--subnets", type=int, default=12)
    ap.add_argument("--compilations", type=int, default=12, help="rounds; each compiles every subnet afresh")
    ap.add_argument("--group", type=int, default=5, help="rounds per median when comparing two medians "
                    "(table validation takes the median of 5)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from hwnat.backends.base import ModelSource, create_backend
    from hwnat.config.targets import load_target
    from hwnat.latency.networks import default_network_timing, export_networks, time_paired
    from hwnat.latency.selection import random_archs
    from hwnat.space import arch_id, get_space, mid_arch

    spec = load_target(args.target)
    backend = create_backend(spec)
    space = get_space(args.space)
    archs = random_archs(space, args.subnets, np.random.default_rng(args.seed), space.width_mults, space.resolutions)
    timing = default_network_timing(spec.timing).per_round
    rng = np.random.default_rng(args.seed)
    shape = (len(archs), args.compilations)
    alone, paired_raw, ref_ms = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    with tempfile.TemporaryDirectory(prefix="hwnat-repeat-") as tmp:
        sources = export_networks(space, [*archs, mid_arch(space)], Path(tmp), spec.batch, progress=False)
        ref_source: ModelSource = sources.pop()
        ref = backend.compile(ref_source)
        ref_x = rng.standard_normal(ref_source.input_shape).astype(np.float32)
        inputs = [rng.standard_normal(s.input_shape).astype(np.float32) for s in sources]
        for r in range(args.compilations):
            for i in rng.permutation(len(sources)):
                model = backend.compile(sources[i])
                alone[i, r] = np.percentile(model.time_calls(inputs[i], timing), 10) * 1e3
                samples, ref_samples = time_paired(model, inputs[i], ref, ref_x, timing)
                paired_raw[i, r] = np.percentile(samples, 10) * 1e3
                ref_ms[i, r] = np.percentile(ref_samples, 10) * 1e3
    paired = paired_raw * np.median(ref_ms) / ref_ms
    methods = {"alone": alone, "paired, unscaled": paired_raw, "paired": paired}
    summary = {name: spread(values, args.group) for name, values in methods.items()}
    for name, values in methods.items():
        print(f"-- {name}: p10 per compilation relative to the subnet's median")
        rel = values / np.median(values, axis=1, keepdims=True)
        for i, arch in enumerate(archs):
            print(f"{arch_id(space, arch):38s} median {np.median(values[i]):.3f} ms  "
                  + " ".join(f"{v:.2f}" for v in rel[i]))
    print(f"reference {arch_id(space, mid_arch(space))}: p10 per round (median over subnets) "
          + " ".join(f"{v:.3f}" for v in np.median(ref_ms, axis=0)))
    for name, s in summary.items():
        print(f"{args.target} {name}: {alone.size} compilations of {len(archs)} subnets; {s['fast']} more than "
              f"{OUTLIER:.0%} faster and {s['slow']} more than {OUTLIER:.0%} slower than their subnet's median; "
              f"std of log ratio {s['std_log']:.3f}; medians of {args.group} rounds agree within ±10% in "
              f"{s['groups_within_10pct']} of {s['group_pairs']} pairs")
    if args.json:
        args.json.write_text(json.dumps({"target": args.target, "arch_ids": [arch_id(space, a) for a in archs],
                                         "alone_p10_ms": alone.tolist(), "paired_p10_ms": paired_raw.tolist(),
                                         "reference_p10_ms": ref_ms.tolist(), "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
