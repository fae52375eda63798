"""Benchmark: how repeatable a target's end-to-end latency is from one compilation of a subnet to the next.

    python tools/bench_repeatability.py --target openvino-cpu --subnets 12 --compilations 12

Random subnets of the small-input space (all widths and resolutions, seeded) are exported once; each round
compiles every subnet afresh, in a shuffled order, and times it with the per-round settings that table
validation uses. Per subnet it prints each compilation's p10 relative to the subnet's median, and overall how
many compilations came out more than 15% faster or slower than their subnet's median. This is the noise floor
any latency predictor is scored against.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OUTLIER = 0.15


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="openvino-cpu")
    ap.add_argument("--space", default="mbv3-small-input")
    ap.add_argument("--subnets", type=int, default=12)
    ap.add_argument("--compilations", type=int, default=12, help="rounds; each compiles every subnet afresh")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from hwnat.backends.base import create_backend
    from hwnat.config.targets import load_target
    from hwnat.latency.networks import default_network_timing, export_networks
    from hwnat.latency.selection import random_archs
    from hwnat.space import arch_id, get_space

    spec = load_target(args.target)
    backend = create_backend(spec)
    space = get_space(args.space)
    archs = random_archs(space, args.subnets, np.random.default_rng(args.seed), space.width_mults, space.resolutions)
    timing = default_network_timing(spec.timing).per_round
    rng = np.random.default_rng(args.seed)
    p10 = np.zeros((len(archs), args.compilations))
    with tempfile.TemporaryDirectory(prefix="hwnat-repeat-") as tmp:
        sources = export_networks(space, archs, Path(tmp), spec.batch, progress=False)
        inputs = [rng.standard_normal(s.input_shape).astype(np.float32) for s in sources]
        for r in range(args.compilations):
            for i in rng.permutation(len(sources)):
                model = backend.compile(sources[i])
                p10[i, r] = np.percentile(model.time_calls(inputs[i], timing), 10) * 1e3
    rel = p10 / np.median(p10, axis=1, keepdims=True)
    for i, arch in enumerate(archs):
        print(f"{arch_id(space, arch):38s} median {np.median(p10[i]):.3f} ms  " + " ".join(f"{v:.2f}" for v in rel[i]))
    fast, slow = int((rel < 1 - OUTLIER).sum()), int((rel > 1 + OUTLIER).sum())
    inner = rel[(rel >= 1 - OUTLIER) & (rel <= 1 + OUTLIER)]
    print(f"{args.target}: {rel.size} compilations of {len(archs)} subnets; {fast} more than {OUTLIER:.0%} faster "
          f"and {slow} more than {OUTLIER:.0%} slower than their subnet's median; the rest spread "
          f"{inner.min():.2f}–{inner.max():.2f} (std {inner.std():.3f})")
    if args.json:
        args.json.write_text(json.dumps({"target": args.target, "arch_ids": [arch_id(space, a) for a in archs],
                                         "p10_ms": p10.tolist(), "fast": fast, "slow": slow}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
