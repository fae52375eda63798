"""Training presets (smoke / quick / paper) as plain data: global settings and per-phase settings."""

from __future__ import annotations

from typing import Any

from hwnat.errors import ConfigError, unknown_name

# Phase kinds in OFAv2's order. A kind expands into one or more phases ("depth" → "depth-1", "depth-2");
# settings given for a kind apply to all its phases, settings given for a phase name override them.
PHASE_KINDS = ("teacher", "kernel", "level", "height", "depth", "expand")

# Global settings shared by every preset unless a preset overrides them.
BASE_TRAIN: dict[str, Any] = {
    "batch_size": 64,             # images per step and per process
    "lr_reference_batch": 64,     # phase lr is for this global batch; scaled linearly to batch_size × processes
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 3e-5,         # not applied to batch-norm parameters and biases
    "label_smoothing": 0.1,
    "resolutions": "all",         # "all" = the search space's, or a list of some of them
    "augment": "cifar",           # cifar (pad-crop, flip) | imagenet (random resized crop, flip) | none
    "val": 0.1,                   # validation split: a fraction or an image count (split by seed)
    "max_steps_per_epoch": 0,     # 0 = the whole training split each epoch
    "val_max_images": 0,          # 0 = the whole validation split
    "val_random_subnets": 2,      # random subnets evaluated after each epoch (besides largest/median/smallest)
    "bn_calib_batches": 8,        # training batches for BN recalibration of each evaluated subnet / teacher
    "ens_kd": "uniform",          # early-exit teacher soft target: uniform | up-to-student | linear
    "threads": 0,                 # torch intra-op threads; 0 = torch's default
    "channels_last": True,        # NHWC memory format (2-3× faster depthwise backward on CPU)
    "deterministic": True,        # torch.use_deterministic_algorithms (warn-only on CUDA)
}

# OFA's published schedule (train_ofa_net.py): kernel 120 ep lr 3e-2 warm-up 5, depth/expand phase 1 25 ep
# lr 2.5e-3, phase 2 120 ep lr 7.5e-3 warm-up 5; dynamic batch 1 / 2 / 4; kd_ratio 1; lr per 64 images.
# The teacher, elastic level and elastic height numbers are hwnat's choices (OFAv2's are not reproduced).
PAPER_PHASES: dict[str, dict[str, Any]] = {
    "teacher": {"epochs": 180, "lr": 0.1, "warmup_epochs": 5, "subnets_per_step": 1, "kd_ratio": 0.0},
    "kernel": {"epochs": 120, "lr": 3e-2, "warmup_epochs": 5, "subnets_per_step": 1, "kd_ratio": 1.0},
    "level": {"epochs": 25, "lr": 2.5e-3, "warmup_epochs": 0, "subnets_per_step": 2, "kd_ratio": 1.0},
    "height": {"epochs": 25, "lr": 2.5e-3, "warmup_epochs": 0, "subnets_per_step": 2, "kd_ratio": 1.0},
    "depth": {"epochs": 120, "lr": 7.5e-3, "warmup_epochs": 5, "subnets_per_step": 2, "kd_ratio": 1.0},
    "depth-1": {"epochs": 25, "lr": 2.5e-3, "warmup_epochs": 0},
    "expand": {"epochs": 120, "lr": 7.5e-3, "warmup_epochs": 5, "subnets_per_step": 4, "kd_ratio": 1.0},
    "expand-1": {"epochs": 25, "lr": 2.5e-3, "warmup_epochs": 0},
}

# Sized for CIFAR-10 (45,000 training images) on the small-input space at width 0.5 on a 2-core CPU (see README
# and tools/bench_supernet.py --probe-steps): 8 teacher epochs at lr 0.1 with one warm-up epoch (4 epochs at lr
# 0.05 left the teacher at 69%), one epoch per elastic phase, one subnet per step, resolution 32 only (CIFAR's own
# size), largest/median/smallest subnets validated on 2,000 images per epoch. Measured full run: 3.08 h (partly
# sharing the CPU), teacher 74%, final largest / smallest 70% / 60% — short of the 85% / 75% goal.
QUICK_PHASES: dict[str, dict[str, Any]] = {
    "teacher": {"epochs": 8, "lr": 0.1, "warmup_epochs": 1, "subnets_per_step": 1, "kd_ratio": 0.0},
    "kernel": {"epochs": 1, "lr": 0.03, "warmup_epochs": 0, "subnets_per_step": 1, "kd_ratio": 1.0},
    "level": {"epochs": 1, "lr": 0.02, "warmup_epochs": 0, "subnets_per_step": 1, "kd_ratio": 1.0},
    "height": {"epochs": 1, "lr": 0.02, "warmup_epochs": 0, "subnets_per_step": 1, "kd_ratio": 1.0},
    "depth": {"epochs": 1, "lr": 0.02, "warmup_epochs": 0, "subnets_per_step": 1, "kd_ratio": 1.0},
    "expand": {"epochs": 1, "lr": 0.02, "warmup_epochs": 0, "subnets_per_step": 1, "kd_ratio": 1.0},
}

# A few steps of every phase: checks that the whole pipeline runs, trains nothing useful.
SMOKE_PHASES: dict[str, dict[str, Any]] = {
    "teacher": {"epochs": 1, "lr": 0.05, "warmup_epochs": 0, "subnets_per_step": 1, "kd_ratio": 0.0},
    **{kind: {"epochs": 1, "lr": 1e-2, "warmup_epochs": 0, "subnets_per_step": 2, "kd_ratio": 1.0}
       for kind in PHASE_KINDS[1:]},
}

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "train": {"max_steps_per_epoch": 10, "val_max_images": 500, "val_random_subnets": 1,
                  "bn_calib_batches": 2},
        "phases": SMOKE_PHASES,
    },
    "quick": {
        "train": {"resolutions": [32], "bn_calib_batches": 4, "val_random_subnets": 0, "val_max_images": 2000,
                  "weight_decay": 5e-5},
        "phases": QUICK_PHASES,
    },
    "paper": {"train": {}, "phases": PAPER_PHASES},
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_data(name: str) -> dict[str, Any]:
    """The preset's raw settings: {"train": {...every global key...}, "phases": {...}} (a fresh copy)."""
    if name not in PRESETS:
        raise ConfigError(unknown_name("training preset", name, PRESETS))
    preset = PRESETS[name]
    phases = {key: dict(value) for key, value in preset["phases"].items()}
    return {"train": {**BASE_TRAIN, **preset["train"]}, "phases": phases}
