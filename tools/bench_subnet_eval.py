"""Subnet-evaluation throughput: extraction + BN recalibration + validation, as the search's evaluator does it.

    python tools/bench_subnet_eval.py --supernet runs/cifar-w05/supernet.pt \\
        --data ../shared/datasets/cifar10/train.tar.gz --val-images 5000 --subnets 20

Random subnets (NATv2 initialisation, seeded) evaluated one by one by hwnat.search's SupernetEvaluator on the
super-network's validation split (capped by --val-images); prints subnets per second, the median seconds per
subnet and its parts (extract, BN recalibration, validation), and JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--supernet", type=Path, required=True)
    ap.add_argument("--data", default="digits")
    ap.add_argument("--val-images", type=int, default=5000, help="0 = the whole validation split")
    ap.add_argument("--subnets", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    from hwnat.data.splits import stratified_order
    from hwnat.search.operators import search_bounds, unique_sample
    from hwnat.search.supernet_eval import supernet_evaluator
    from hwnat.space.genome import decode
    from hwnat.supernet import extract, recalibrate_bn
    from hwnat.training.batches import ShardedLoader, calibration_batches
    from hwnat.training.validate import accuracy

    torch.set_num_threads(args.threads)
    ev = supernet_evaluator(args.supernet, args.data, val_images=args.val_images)
    space, data = ev.space, ev.data
    lo, hi = search_bounds(space, float(ev.supernet.width_mult))
    genomes = unique_sample(space, "natv2", args.subnets, np.random.default_rng(args.seed), lo, hi)
    images = min(len(data.val), args.val_images or len(data.val))
    ev.evaluate(genomes[:1])  # warm-up
    t0 = time.perf_counter()
    ev.evaluate(genomes)
    wall = time.perf_counter() - t0
    parts: dict[str, list[float]] = {"extract": [], "bn_recalibration": [], "validation": []}
    for g in genomes[: min(5, len(genomes))]:  # the same work split into its parts
        arch = decode(space, g)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(data.seed)
            t = time.perf_counter()
            model = extract(ev.supernet, arch)
            parts["extract"].append(time.perf_counter() - t)
            t = time.perf_counter()
            recalibrate_bn(model, calibration_batches(data.train, data.train_transform, data.batch_size,
                                                      data.calib_batches, data.seed, arch.resolution, data.device,
                                                      data.channels_last))
            parts["bn_recalibration"].append(time.perf_counter() - t)
            val = ev.data.val
            if args.val_images and args.val_images < len(val):  # as evaluate_arch caps it
                val = val.subset(np.sort(stratified_order(val.labels, data.seed)[: args.val_images]))
            t = time.perf_counter()
            loader = ShardedLoader(val, batch_size=max(data.batch_size, 100), transform=data.eval_transform, seed=0,
                                   shuffle=False, drop_last=False)
            accuracy(model, loader, arch.resolution, data.device, data.channels_last)
            parts["validation"].append(time.perf_counter() - t)
    result = {"supernet": str(args.supernet), "data": args.data, "space": space.name,
              "width": float(ev.supernet.width_mult), "val_images": images, "calib_batches": data.calib_batches,
              "batch_size": data.batch_size, "threads": args.threads, "subnets": len(genomes),
              "subnets_per_s": len(genomes) / wall, "median_s_parts": {k: statistics.median(v) for k, v in
                                                                        parts.items()}}
    print(f"{len(genomes)} subnets in {wall:.1f} s: {result['subnets_per_s']:.2f} subnets/s "
          f"({images} validation images, BN recalibration on {data.calib_batches} batches of {data.batch_size}, "
          f"{args.threads} thread(s))")
    print("median per subnet: " +
          ", ".join(f"{k} {v:.3f} s" for k, v in result["median_s_parts"].items()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
