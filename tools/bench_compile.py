"""Benchmark: three subnets of a trained super-network compiled to PyTorch / ORT fp32+INT8 / OpenVINO fp32+INT8 —
test accuracy and p50 latency, all measured in one interleaved run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnat.config.targets import TimingSpec
from hwnat.export.api import default_targets, export_subnet
from hwnat.export.options import ExportOptions
from hwnat.export.runners import load_artifact, run_all
from hwnat.export.sources import from_supernet
from hwnat.space import Arch, SearchSpace, arch_id, max_arch, min_arch

FORMATS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SUPERNET = ROOT / "runs" / "bench-supernet" / "supernet.pt"  # tools/bench_supernet.py's default --out
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "cifar10" / "train.tar.gz"


def middle_arch(space: SearchSpace, width: float, resolution: int) -> Arch:
    """The middle kernel, expand and depth choice in every stage (5, 4, 3 in the OFA layout)."""
    big = max_arch(space, width)
    k, e = sorted(space.kernel_sizes)[len(space.kernel_sizes) // 2], sorted(space.expand_ratios)[len(space.expand_ratios) // 2]
    d = sorted(space.depths)[len(space.depths) // 2]
    return dataclasses.replace(big, resolution=resolution, kernels=((k,) * d,) * space.num_stages,
                               expands=((e,) * d,) * space.num_stages)


def pick_archs(space: SearchSpace, width: float, resolution: int, ids: str | None) -> dict[str, Arch]:
    from hwnat.space import parse_arch_id

    if ids:
        return {f"subnet-{i + 1}": parse_arch_id(space, t) for i, t in enumerate(ids.split(","))}
    return {"small": dataclasses.replace(min_arch(space, width), resolution=resolution),
            "medium": middle_arch(space, width, resolution),
            "large": dataclasses.replace(max_arch(space, width), resolution=resolution)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--supernet", type=Path, default=DEFAULT_SUPERNET)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="dataset the super-network was trained on")
    parser.add_argument("--archs", default=None, help="comma-separated arch ids (default: small, medium, large)")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--calib-images", type=int, default=300)
    parser.add_argument("--parity-images", type=int, default=1000)
    parser.add_argument("--test-images", type=int, default=0, help="0: the whole test split")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per model per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-compile"))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    if not args.supernet.is_file():
        sys.exit(f"super-network {args.supernet} does not exist (train one: tools/bench_supernet.py, or pass "
                 "--supernet)")
    torch.set_num_threads(1)
    options = ExportOptions(calib_images=args.calib_images, parity_images=args.parity_images, max_drop=100.0)
    from hwnat.data import load_dataset
    from hwnat.training.api import load_supernet

    dataset = load_dataset(args.data)
    net = load_supernet(args.supernet)
    archs = pick_archs(net.space, float(net.width_mult), args.resolution, args.archs)
    targets = default_targets([r for r in _formats()])
    models: list[dict[str, Any]] = []
    for label, arch in archs.items():
        t0 = time.perf_counter()
        source = from_supernet(args.supernet, arch, data=dataset, seed=args.seed)
        data = source.export_data(options, test_images=args.test_images)
        results = export_subnet(source.model, source.info, FORMATS, args.out / label, data=data, options=options,
                                seed=args.seed, keep_failed=True)
        for r in results:
            row: dict[str, Any] = {"subnet": label, "arch_id": arch_id(net.space, arch), "format": r.format.name,
                                   "status": r.symbol, "size_mb": r.size_bytes / 2**20, "error": r.error}
            if r.model_file is not None:
                target = targets[r.format.name]
                _, compiled = load_artifact(r.format.family, r.model_file, target, (1, 3, arch.resolution,
                                                                                     arch.resolution))
                logits = run_all(compiled, data.test)
                row.update(test_top1=float((logits.argmax(1) == data.test_labels).mean()), test_images=len(data.test),
                           target=target.name, _compiled=compiled, samples=[])
                if r.parity is not None:
                    row["parity"] = r.parity.reason
            models.append(row)
        print(f"{label}: exported and scored in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    timed = [m for m in models if "_compiled" in m]
    timing = TimingSpec(warmup=5, min_runs=args.calls, min_time_s=0.0)
    rng = np.random.default_rng(args.seed)
    x = {m["arch_id"]: rng.standard_normal((1, 3, args.resolution, args.resolution)).astype(np.float32)
         for m in timed}
    for _ in range(args.rounds):  # interleaved: every model once per round, in a fresh random order
        for i in rng.permutation(len(timed)):
            m = timed[i]
            m["samples"] += m["_compiled"].time_calls(x[m["arch_id"]], timing)
    for m in timed:
        ms = np.asarray(m.pop("samples")) * 1e3
        m.update(p50_ms=float(np.percentile(ms, 50)), p90_ms=float(np.percentile(ms, 90)), timed_calls=len(ms))
        del m["_compiled"]
    _print(models)
    if args.json:
        args.json.write_text(json.dumps({"supernet": str(args.supernet), "data": str(args.data), "rows": models},
                                        indent=2) + "\n")


def _formats() -> list[Any]:
    from hwnat.export.formats import get_format

    return [get_format(f) for f in FORMATS]


def _print(rows: list[dict[str, Any]]) -> None:
    base = {(r["subnet"]): r for r in rows if r["format"] == "torch"}
    print("| subnet | arch | format | status | size MB | test top-1 | Δ vs PyTorch | p50 ms | p90 ms | vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ref = base.get(r["subnet"], {})
        if "p50_ms" not in r:
            print(f"| {r['subnet']} | {r['arch_id']} | {r['format']} | {r['status']} | - | - | - | - | - | "
                  f"{r['error']} |")
            continue
        delta = 100 * (r["test_top1"] - ref.get("test_top1", r["test_top1"]))
        speed = ref.get("p50_ms", r["p50_ms"]) / r["p50_ms"]
        print(f"| {r['subnet']} | {r['arch_id']} | {r['format']} | {r['status']} | {r['size_mb']:.2f} | "
              f"{100 * r['test_top1']:.2f}% | {delta:+.2f} | {r['p50_ms']:.3f} | {r['p90_ms']:.3f} | {speed:.2f}× |")


if __name__ == "__main__":
    main()
