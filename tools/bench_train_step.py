"""Benchmark one training step of the largest subnet: what buys super-network training speed on this CPU.

    python tools/bench_train_step.py                       # the quick preset's setting against the alternatives
    python tools/bench_train_step.py --compile             # also torch.compile (inductor; compiles first, slow)
    python tools/bench_train_step.py --baselines all       # also the MobileNetV3 baselines tools/bench_build.py trains

A step is forward, cross-entropy, backward and an SGD (Nesterov) step on random images at the space's smallest
resolution. Variants: the super-network with the largest subnet active (as the teacher phase trains it) or its
extracted static copy; channels-last or NCHW; deterministic algorithms on or off; batch sizes; optionally
torch.compile; with --baselines, the MobileNetV3-Small / -Large baselines (hwnat.models.baselines) at
--baseline-widths as tools/bench_build.py trains them (channels-last, deterministic). All variants are built first and timed round-robin (--rounds rounds of --steps steps each, after
--warmup untimed steps), so load on a shared machine falls on all of them alike; the table gives the median
seconds per step, images per second, and the speed (images per second) relative to the reference, the quick
preset's setting: super-network, channels-last, deterministic, batch 64.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

@dataclass
class Variant:
    name: str
    model: Any
    batch: int
    channels_last: bool
    deterministic: bool
    optimizer: Any = None
    times: list[float] = field(default_factory=list)


def make_variants(args: argparse.Namespace, space: Any) -> list[Variant]:
    import torch

    from hwnat.models.baselines import baseline_id, create_baseline
    from hwnat.space.arch import max_arch
    from hwnat.supernet import OFAMobileNetV3
    from hwnat.supernet.extract import extract

    torch.manual_seed(args.seed)
    arch = max_arch(space, args.width)

    def supernet() -> Any:
        net = OFAMobileNetV3(space, args.width)
        net.set_active_subnet(arch)
        return net

    def static() -> Any:
        return extract(supernet(), arch)

    variants = []
    for kind, build in (("supernet", supernet), ("static", static)):
        for cl in (True, False):
            for det in (True, False):
                variants.append(Variant(f"{kind} {'cl' if cl else 'nchw'} {'det' if det else 'nondet'} b{args.batch}",
                                        build(), args.batch, cl, det))
    variants += [Variant(f"supernet cl det b{b}", supernet(), b, True, True)
                 for b in args.batch_sizes if b != args.batch]
    resolution = min(space.resolutions)
    for name in args.baselines:
        for width in args.baseline_widths:
            model = create_baseline(name, space.num_classes, width_mult=width, resolution=resolution)
            variants.append(Variant(f"{baseline_id(name, width, resolution)} cl det b{args.batch}", model,
                                    args.batch, True, True))
    if args.compile:
        variants.append(Variant(f"supernet cl nondet b{args.batch} compiled", torch.compile(supernet()), args.batch,
                                True, False))
    return variants


def time_steps(v: Variant, steps: int, resolution: int, record: bool) -> None:
    import torch
    import torch.nn.functional as F

    torch.use_deterministic_algorithms(v.deterministic)
    x = torch.randn(v.batch, 3, resolution, resolution)
    y = torch.randint(0, 10, (v.batch,))
    if v.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for _ in range(steps):
        start = time.perf_counter()
        v.optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(v.model(x), y).backward()
        v.optimizer.step()
        if record:
            v.times.append(time.perf_counter() - start)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from hwnat.space import get_space

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(args.threads)
    space = get_space(args.space)
    resolution = min(space.resolutions)
    try:
        variants = make_variants(args, space)
        for v in variants:
            if v.channels_last:
                v.model.to(memory_format=torch.channels_last)
            v.model.train()
            v.optimizer = torch.optim.SGD(v.model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
            time_steps(v, args.warmup, resolution, record=False)
        for _ in range(args.rounds):
            for v in variants:
                time_steps(v, args.steps, resolution, record=True)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    reference = variants[0].name  # the quick preset's setting
    rates = {v.name: v.batch / statistics.median(v.times) for v in variants}  # images/s: batch sizes compare
    rows = [{"variant": v.name, "batch": v.batch, "s_per_step": statistics.median(v.times),
             "images_per_s": rates[v.name], "speed_vs_reference": rates[v.name] / rates[reference],
             "steps_timed": len(v.times)} for v in variants]
    return {"space": args.space, "width": args.width, "resolution": resolution, "threads": args.threads,
            "rounds": args.rounds, "steps": args.steps, "warmup": args.warmup, "reference": reference,
            "torch": torch.__version__, "rows": rows}


def print_table(result: dict[str, Any]) -> None:
    print(f"{result['space']} w{result['width']} at {result['resolution']} px, {result['threads']} thread(s); median "
          f"of {result['rounds']} × {result['steps']} steps per variant, timed round-robin")
    print(f"{'variant':34} {'s/step':>7} {'img/s':>7} {'speed':>6}")
    for r in result["rows"]:
        print(f"{r['variant']:34} {r['s_per_step']:7.3f} {r['images_per_s']:7.1f} {r['speed_vs_reference']:5.2f}x")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", default="mbv3-small-input")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64, help="batch size of every variant (the quick preset's: 64)")
    p.add_argument("--batch-sizes", default="128,256", help="more batch sizes for the reference setting")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=4, help="timed steps per variant and round")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first")
    p.add_argument("--compile", action="store_true", help="also time torch.compile of the super-network")
    p.add_argument("--baselines", default="", help="baseline names, comma-separated, or 'all' (default: none)")
    p.add_argument("--baseline-widths", default="0.5,0.75,1.0", help="widths of each baseline")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = p.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        p.error(f"--batch-sizes: expected comma-separated integers, got {args.batch_sizes!r}")
    from hwnat.models.baselines import list_baselines

    known = list_baselines()
    args.baselines = known if args.baselines == "all" else [b for b in args.baselines.split(",") if b.strip()]
    unknown = [b for b in args.baselines if b not in known]
    if unknown:
        p.error(f"--baselines: unknown {', '.join(unknown)}; known: {', '.join(known)} or 'all'")
    try:
        args.baseline_widths = [float(w) for w in args.baseline_widths.split(",") if w.strip()]
    except ValueError:
        p.error(f"--baseline-widths: expected comma-separated numbers, got {args.baseline_widths!r}")
    for name in ("threads", "rounds", "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be ≥ 1, got {getattr(args, name)}")
    if args.warmup < 0 or any(b < 1 for b in [args.batch, *args.batch_sizes]):
        p.error("--warmup must be ≥ 0 and every batch size ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from hwnat.errors import HwnatError
    from hwnat.io import atomic_write_json

    try:
        result = run(args)
    except HwnatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_table(result)
    if args.json is not None:
        atomic_write_json(args.json, result, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
