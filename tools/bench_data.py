"""Time a cold (empty cache) and a warm (cached, memory-mapped) load of an ImageFolder source, e.g. CIFAR-10."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hwnat.data import decode, load_dataset, make_loader

T = TypeVar("T")

DEFAULT_SOURCE = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cifar10" / "train.tar.gz"


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the decode workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def timed_cpu(fn: Callable[[], T]) -> tuple[float, float, T]:
    cpu = cpu_seconds()
    seconds, result = timed(fn)
    return seconds, cpu_seconds() - cpu, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE),
                        help="an ImageFolder directory or tar (default: %(default)s)")
    parser.add_argument("--warm", type=int, default=5, help="warm loads to take the median of")
    parser.add_argument("--cold", type=int, default=1, help="cold loads per worker setting")
    parser.add_argument("--workers", default="auto,1", help="comma-separated decode worker counts for cold loads")
    args = parser.parse_args(argv)
    if not Path(args.source).exists():
        print(f"source not found: {args.source}", file=sys.stderr)
        return 2

    rows: list[tuple[str, float, str]] = []
    load = os.getloadavg()[0]
    dataset = None
    for round_ in range(args.cold):
        for setting in args.workers.split(","):
            workers = decode.worker_count() if setting == "auto" else int(setting)
            saved = decode.MAX_WORKERS
            decode.MAX_WORKERS = workers
            try:
                with tempfile.TemporaryDirectory(prefix="hwnat-bench-") as cache:
                    seconds, cpu, dataset = timed_cpu(lambda: load_dataset(args.source, cache_dir=Path(cache)))
            finally:
                decode.MAX_WORKERS = saved
            pool = f"{workers} worker processes" if workers > 1 else "in-process"
            rows.append((f"cold load, decode {pool}, run {round_ + 1}", seconds, f"cpu {cpu:.2f} s"))

    with tempfile.TemporaryDirectory(prefix="hwnat-bench-") as cache:
        first, dataset = timed(lambda: load_dataset(args.source, cache_dir=Path(cache)))
        rows.append(("cold load + cache write (warm-up)", first, ""))
        warm = [timed(lambda: load_dataset(args.source, cache_dir=Path(cache)))[0] for _ in range(args.warm)]
        rows.append((f"warm load (median of {args.warm})", statistics.median(warm),
                     f"min {min(warm):.4f} max {max(warm):.4f}"))
        cached = load_dataset(args.source, cache_dir=Path(cache))
        touch, _ = timed(lambda: int(cached.images.max()))
        rows.append(("warm: first touch of every pixel (mmap)", touch, ""))
        loader = make_loader(cached, batch_size=256, shuffle=True)
        epoch, batches = timed(lambda: sum(1 for _ in loader))
        rows.append((f"one shuffled epoch, batch 256 ({batches} batches)", epoch, "uint8 -> float32 NCHW"))

    assert dataset is not None
    print(f"source: {args.source}  (cores {decode.worker_count()}, 1-min load average {load:.2f})")
    print(f"dataset: {len(dataset)} images {dataset.images.shape[1]}x{dataset.images.shape[2]}, "
          f"{dataset.num_classes} classes, skipped {dataset.skipped}")
    width = max(len(name) for name, _, _ in rows)
    print(f"{'phase':<{width}}  {'seconds':>9}  note")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:>9.4f}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
