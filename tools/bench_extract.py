"""Benchmark: extraction parity (max |supernet − extracted| over random archs per variant) and time per extract."""

from __future__ import annotations

import argparse
import json
import time

import torch

from hwnat.space import get_space, sample_archs
from hwnat.space.spec import VARIANT_NAMES
from hwnat.supernet import OFAMobileNetV3, extract
from hwnat.supernet.perturb import perturb_for_parity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--space", default="mbv3-small-input")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("-n", "--archs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rows = []
    for variant in VARIANT_NAMES:
        space = get_space(args.space, variant=variant)
        net = OFAMobileNetV3(space, args.width).eval()
        perturb_for_parity(net, args.seed)
        worst, extract_s = 0.0, []
        for arch in sample_archs(space, args.archs, seed=args.seed, width_mult=args.width):
            x = torch.randn(2, 3, arch.resolution, arch.resolution)
            t0 = time.perf_counter()
            static = extract(net, arch).eval()
            extract_s.append(time.perf_counter() - t0)
            with torch.no_grad(), net.active(arch):
                worst = max(worst, (static(x) - net(x)).abs().max().item())
        extract_s.sort()
        rows.append({"variant": variant, "archs": args.archs, "max_abs_diff": worst,
                     "extract_ms_p50": 1e3 * extract_s[len(extract_s) // 2]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'variant':20} {'archs':>5} {'max |diff|':>12} {'extract ms p50':>15}")
    for r in rows:
        print(f"{r['variant']:20} {r['archs']:>5} {r['max_abs_diff']:>12.3g} {r['extract_ms_p50']:>15.1f}")


if __name__ == "__main__":
    main()
