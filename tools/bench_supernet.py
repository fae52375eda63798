"""Benchmark super-network training: the small-input space (w0.5) on CIFAR-10 (45,000 train / 5,000 validation).

    python tools/bench_supernet.py                      # train with the quick preset, or resume where it stopped
    python tools/bench_supernet.py --preset smoke       # a few steps per phase, end to end
    python tools/bench_supernet.py --probe-steps 40     # time 40 steps of every phase, estimate the preset's time
    python tools/bench_supernet.py --report-only        # print the table of a finished or interrupted run
    python tools/bench_supernet.py --device cuda --preset paper --out runs/bench-supernet-paper   # on a GPU

Reports per phase: accuracy of the largest, median and smallest subnets (last epoch, BN recalibrated), wall time
and peak memory (getrusage maxrss), as a table on stdout and as JSON (--json FILE). Training is resumable: a rerun
with the same --out continues from the last completed epoch.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "cifar10" / "train.tar.gz"
SPACE, WIDTH, VAL_IMAGES = "mbv3-small-input", 0.5, 5000


def read_log(out: Path) -> list[dict[str, Any]]:
    path = out / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def phase_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r["phase"], {"phase": r["phase"], "epochs_done": 0, "wall_s": 0.0, "peak_rss_mb": 0.0,
                                           "steps_per_epoch": r["steps"], "train_s": 0.0, "val_s": 0.0})
        row["epochs_done"] = r["epoch"]
        row["epochs"] = r["epochs"]
        row["train_s"] += r["train_s"]
        row["val_s"] += r["val_s"]
        row["wall_s"] += r["train_s"] + r["val_s"]
        row["peak_rss_mb"] = max(row["peak_rss_mb"], r["peak_rss_mb"])
        row.update({k: r["val"][k] for k in ("largest", "median", "smallest")})
    return list(rows.values())


def describe_eval(out: Path) -> str:
    """Which images the accuracies were measured on, from the run's config.json."""
    path = out / "config.json"
    if not path.exists():
        return "validation split"
    cfg = json.loads(path.read_text())
    per_epoch = cfg["config"]["val_max_images"] or cfg["val_images"]
    return (f"{cfg['config']['preset']} preset; {cfg['train_images']} train / {cfg['val_images']} validation images, accuracy on "
            f"{min(per_epoch, cfg['val_images'])} of them, resolutions {cfg['resolutions']}")


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    print(title)
    print(f"{'phase':10} {'epochs':>7} {'largest':>8} {'median':>8} {'smallest':>9} {'wall':>9} {'peak RSS':>9}")
    for r in rows:
        print(f"{r['phase']:10} {r['epochs_done']:>3}/{r['epochs']:<3} {r['largest']:>8.2%} {r['median']:>8.2%} "
              f"{r['smallest']:>9.2%} {r['wall_s'] / 60:>7.1f} m {r['peak_rss_mb'] / 1024:>7.2f} G")
    total = sum(r["wall_s"] for r in rows)
    peak = max((r["peak_rss_mb"] for r in rows), default=0.0)
    print(f"total wall time {total / 3600:.2f} h; peak memory {peak / 1024:.2f} GiB")


def train(args: argparse.Namespace, overrides: dict[str, Any]) -> None:
    from hwnat.training import train_supernet

    resume = (args.out / "checkpoints" / "last.pt").exists()
    if resume:
        print(f"resuming from {args.out / 'checkpoints' / 'last.pt'}", file=sys.stderr)
    train_supernet(SPACE, args.data, width_mult=WIDTH, preset=args.preset, config=args.config, out=args.out,
                   resume=resume, seed=args.seed, overrides=overrides, progress=not args.no_progress,
                   device=args.device)


def probe(args: argparse.Namespace) -> dict[str, Any]:
    """Run `--probe-steps` steps of every phase (one epoch each, full validation) and extrapolate the preset."""
    from hwnat.space import get_space
    from hwnat.training import build_phases, load_config

    cfg = load_config(args.preset, args.config)
    phases = build_phases(get_space(SPACE, num_classes=10), cfg)
    overrides = {"train": {"val": VAL_IMAGES, "threads": args.threads, "max_steps_per_epoch": args.probe_steps},
                 "phases": {p.name: {"epochs": 1} for p in phases}}
    out = args.out.with_name(args.out.name + "-probe")
    if (out / "checkpoints" / "last.pt").exists():
        raise SystemExit(f"{out} holds an earlier probe; remove it first")
    start = time.perf_counter()
    from hwnat.training import train_supernet

    train_supernet(SPACE, args.data, width_mult=WIDTH, preset=args.preset, config=args.config, out=out,
                   seed=args.seed, overrides=overrides, progress=not args.no_progress, device=args.device)
    probe_wall = time.perf_counter() - start
    steps_full = (45000 // cfg.batch_size)
    estimate = []
    for p, row in zip(phases, phase_rows(read_log(out))):
        step_s = row["train_s"] / args.probe_steps
        epoch_s = steps_full * step_s + row["val_s"]
        estimate.append({"phase": p.name, "epochs": p.epochs, "subnets_per_step": p.settings.subnets_per_step,
                         "step_s": round(step_s, 3), "val_s": round(row["val_s"], 1), "epoch_s": round(epoch_s, 1),
                         "phase_s": round(p.epochs * epoch_s, 1)})
    total = sum(e["phase_s"] for e in estimate)
    print(f"timing probe: {args.probe_steps} steps per phase, batch {cfg.batch_size}, {steps_full} steps per epoch, "
          f"threads {args.threads}; probe wall {probe_wall:.0f} s")
    print(f"{'phase':10} {'subnets':>7} {'s/step':>7} {'val s':>6} {'epoch min':>9} {'epochs':>6} {'phase min':>9}")
    for e in estimate:
        print(f"{e['phase']:10} {e['subnets_per_step']:>7} {e['step_s']:>7.3f} {e['val_s']:>6.1f} "
              f"{e['epoch_s'] / 60:>9.1f} {e['epochs']:>6} {e['phase_s'] / 60:>9.1f}")
    print(f"estimated {args.preset} preset total: {total / 3600:.2f} h (extrapolated, not run)")
    return {"probe_steps": args.probe_steps, "probe_wall_s": round(probe_wall, 1), "threads": args.threads,
            "batch_size": cfg.batch_size, "steps_per_epoch": steps_full, "phases": estimate,
            "estimated_total_s": round(total, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def final_eval(out: Path, data: Path, device: str = "cpu") -> dict[str, float]:
    """Accuracy of the final super-network's largest, median and smallest subnets on the whole validation split."""
    import torch

    from hwnat.data import load_dataset, split_dataset
    from hwnat.data.transforms import eval_transform, train_transform
    from hwnat.training import load_supernet
    from hwnat.training.phases import Choices, ranked_arch
    from hwnat.training.validate import EvalData, evaluate_arch

    cfg = json.loads((out / "config.json").read_text())
    net = load_supernet(out / "supernet.pt", device)
    ds = load_dataset(str(data))
    splits = split_dataset(ds, val=cfg["config"]["val"], test=0, seed=cfg["seed"])
    last = cfg["phases"][-1]
    choices = Choices(tuple(last["kernel_sizes"]), tuple(last["expand_ratios"]), tuple(last["depths"]),
                      tuple(last["exits"]), tuple(last["branch_masks"]))
    eval_data = EvalData(splits.train, splits.val, train_transform(ds.resolution, cfg["config"]["augment"]),
                         eval_transform(ds.resolution), cfg["config"]["batch_size"], cfg["config"]["bn_calib_batches"],
                         torch.device(device), cfg["config"]["channels_last"], cfg["seed"])
    if cfg["config"]["channels_last"]:
        net = net.to(memory_format=torch.channels_last)
    res = tuple(cfg["resolutions"])
    return {rank: evaluate_arch(net, ranked_arch(net.space, choices, net.width_mult, res, rank), eval_data)
            for rank in ("largest", "median", "smallest")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CIFAR-10 training split (ImageFolder tar)")
    parser.add_argument("--preset", default="quick", help="training preset (default: quick)")
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML overriding the preset (as hwnat train-supernet --config), to try a schedule")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-supernet",
                        help="run folder (resumable; default: runs/bench-supernet in the repository, where "
                             "tools/bench_build.py looks for the super-network)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1; use 2 only on two idle cores: with the other core busy, 2 "
                             "threads made a step several times slower)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where to train (cuda: one GPU; e.g. --device cuda --preset paper)")
    parser.add_argument("--probe-steps", type=int, default=0, help="only time this many steps of every phase")
    parser.add_argument("--report-only", action="store_true", help="only print the table of --out's log")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if not args.report_only and not args.data.exists():
        raise SystemExit(f"no dataset at {args.data}")
    from hwnat.errors import HwnatError

    try:
        return run(args)
    except HwnatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {"space": SPACE, "width_mult": WIDTH, "preset": args.preset, "data": str(args.data),
                              "device": args.device,
                              "config": None if args.config is None else str(args.config)}
    if args.probe_steps:
        report["probe"] = probe(args)
    else:
        if not args.report_only:
            start = time.perf_counter()
            train(args, {"train": {"val": VAL_IMAGES, "threads": args.threads}})
            report["this_invocation_wall_s"] = round(time.perf_counter() - start, 1)
        rows = phase_rows(read_log(args.out))
        if not rows:
            raise SystemExit(f"no training log in {args.out}")
        print_table(rows, f"{SPACE} w{WIDTH} on CIFAR-10 ({describe_eval(args.out)})")
        report["phases"] = rows
        report["total_wall_s"] = round(sum(r["wall_s"] for r in rows), 1)
        report["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rows)
        if (args.out / "supernet.pt").exists() and not args.report_only:
            final = final_eval(args.out, args.data, args.device)
            report["final_full_validation"] = final
            print("final super-network on all validation images: " +
                  ", ".join(f"{k} {v:.2%}" for k, v in final.items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
