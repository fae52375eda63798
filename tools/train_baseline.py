"""One MobileNetV3 baseline trained as the headline's are (tools/bench_build.py), for any number of epochs.

    python tools/train_baseline.py --name mbv3-large --width 0.5 --epochs 8 \\
        --supernet /work/runs/bench-supernet/supernet.pt --out /work/runs/baseline-epochs

For learning-curve questions the headline cannot answer with its one epoch rule: how far a standalone network
gets in as many epochs as the super-network's teacher phase had, on the same split, augmentation and schedule.
Writes OUT/ID-eEPOCHS/result.json (resumable: an interrupted run goes on from its last finished epoch) and prints
the validation and test top-1 (PyTorch) on the builds' holdout halves.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from bench_build import DEFAULT_DATA, baseline_data, supernet_facts, train_baseline  # noqa: E402

from hwnat.errors import ConfigError, HwnatError  # noqa: E402
from hwnat.models.baselines import baseline_config, baseline_id  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--name", required=True, help="baseline name (mbv3-small, mbv3-large)")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier")
    p.add_argument("--epochs", type=int, required=True, help="epochs of the teacher phase's schedule")
    p.add_argument("--supernet", type=Path, required=True,
                   help="the super-network whose split, augmentation and training config the baseline takes")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="dataset (default: CIFAR-10 train tar; or 'digits')")
    p.add_argument("--resolution", type=int, default=None, help="default: the dataset's image size")
    p.add_argument("--out", type=Path, required=True, help="output folder (reused: resumes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be ≥ 1, got {args.epochs}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except HwnatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    import torch

    from hwnat.data import load_dataset

    torch.set_num_threads(args.threads)
    try:
        baseline_config(args.name, width_mult=args.width)
    except ConfigError as exc:
        raise ConfigError(f"--name {args.name} --width {args.width:g}: {exc}") from exc
    facts = supernet_facts(args.supernet, args.seed)
    dataset = load_dataset(args.data)
    resolution = args.resolution or dataset.resolution
    folder = args.out / f"{baseline_id(args.name, args.width, resolution)}-e{args.epochs}"
    _, result = train_baseline(args.name, args.width, baseline_data(dataset, facts, str(args.data)), facts.config,
                               args.epochs, resolution, folder, args.seed, args.progress, args.device)
    print(f"{result['id']}: {result['epochs']} epochs, val top-1 {100 * result['val_top1_torch']:.2f}%, "
          f"test top-1 {100 * result['test_top1_torch']:.2f}% (PyTorch; {folder / 'result.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
