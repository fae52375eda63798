"""Helpers of the fine-tuning tests: untrained super-network files, tiny settings, and a script for SIGKILL tests.

    python ft_helpers.py SUPERNET OUT [--resume]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

SPACE = "mbv3-small-input"
BASE_ARCH = "r32-w0.5-11-11-11-11-11"        # the smallest subnet at width 0.5, 32 px
EE_ARCH = "r32-w0.5-11-11-11-11-11-x3"       # an early-exit subnet leaving after stage 3
SPLIT_SEED = 3                                # the seed the fake super-network "was trained with" (config.json)
# two steps of 16 images per epoch, at most 2 epochs, a large lr so that weights visibly move
TINY: dict[str, Any] = {"threads": 1, "batch_size": 16, "max_steps_per_epoch": 2, "val_max_images": 50,
                        "bn_calib_batches": 1, "max_epochs": 2, "patience": 2, "lr": 0.05}
SEED = 0  # with TINY on this machine step 1 chooses 2 epochs (the resume tests' richest case)


def make_supernet(path: Path, variant: str = "base", classes: int = 10, val: int = 200) -> Path:
    """An untrained w0.5 super-network written as train_supernet writes supernet.pt, with config.json beside it."""
    from hwnat.space.presets import get_space
    from hwnat.supernet import OFAMobileNetV3
    from hwnat.training import checkpoint as ckpt
    from hwnat.training.config import load_config

    space = get_space(SPACE, variant=variant, num_classes=classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = OFAMobileNetV3(space, 0.5)
    cfg = load_config("smoke", overrides={"train": {"val": val}})
    ckpt.atomic_save({"format": ckpt.SUPERNET_FORMAT, **ckpt.space_identity(space, 0.5), "config": cfg.to_dict(),
                      "state_dict": net.state_dict()}, path)
    (path.parent / "config.json").write_text(json.dumps({"seed": SPLIT_SEED}))
    return path


def state_hash(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def model_state(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model.pt", weights_only=True)["state_dict"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("supernet", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    from hwnat.finetune import finetune

    finetune(args.supernet, BASE_ARCH, "digits", out=args.out, preset="smoke", seed=SEED, resume=args.resume,
             overrides=TINY)
    return 0


if __name__ == "__main__":
    sys.exit(main())
