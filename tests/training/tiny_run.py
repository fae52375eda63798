"""A tiny training run on the digits (used in-process by the tests and as a script for SIGKILL and torchrun).

    python tiny_run.py OUT [--resume] [--variant V] [--epochs N] [--hash-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import torch

from hwnat.space.spec import SearchSpace, StageSpec

TINY = SearchSpace(
    name="tiny-test", resolutions=(16, 24), width_mults=(1.0,),
    stages=(StageSpec(8, 1, "relu", False), StageSpec(16, 2, "hswish", True), StageSpec(16, 2, "hswish", True)),
    kernel_sizes=(3, 5), expand_ratios=(2, 3), depths=(1, 2), stem_width=8, stem_stride=2, first_block_width=8,
    final_expand_width=32, feature_mix_width=48, num_classes=10, description="three-stage space for tests",
)


def overrides(epochs: int = 1, steps: int = 3, **train: Any) -> dict[str, Any]:
    """Smoke preset shrunk: `steps` batches of 16 per epoch, `epochs` per phase, one thread."""
    return {"train": {"batch_size": 16, "max_steps_per_epoch": steps, "threads": 1, "val_max_images": 64,
                      "bn_calib_batches": 1, "val_random_subnets": 1, **train},
            "phases": {kind: {"epochs": epochs} for kind in ("teacher", "kernel", "level", "height", "depth",
                                                            "expand")}}


def state_hash(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--variant", default="base")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--hash-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    from hwnat.training import train_supernet

    result = train_supernet(TINY, "digits", variant=args.variant, preset="smoke", out=args.out, resume=args.resume,
                            seed=5, overrides=overrides(args.epochs, args.steps), progress=False)
    if args.hash_dir is not None:
        import os

        rank = os.environ.get("RANK", "0")
        args.hash_dir.mkdir(parents=True, exist_ok=True)
        (args.hash_dir / f"rank{rank}.txt").write_text(state_hash(result.net.state_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
