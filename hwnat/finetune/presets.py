"""Fine-tuning presets (smoke / quick / paper) as plain data; every key can be overridden."""

from __future__ import annotations

from typing import Any

from hwnat.errors import ConfigError, unknown_name

# Settings shared by every preset unless a preset overrides them. NATv2's post-processing fixes the optimiser by
# exit-ness (SGD for single-exit subnets, AdamW for early-exit ones) and lr 1e-4; the rest are hwnat's choices.
BASE: dict[str, Any] = {
    "max_epochs": 20,            # step 1: most epochs trained while looking for the best epoch count
    "patience": 3,               # step 1: stop after this many epochs without a better validation score
    "batch_size": 64,
    "optimizer": "auto",         # auto: adamw for subnets of early-exit super-networks, sgd otherwise (NATv2)
    "lr": 1e-4,                  # constant learning rate (NATv2)
    "momentum": 0.9,             # sgd only
    "nesterov": False,           # sgd only
    "weight_decay": 3e-5,        # not applied to batch-norm parameters and biases
    "label_smoothing": 0.1,
    "kd_ratio": 1.0,             # with kd: loss = CE(labels) + kd_ratio · CE(teacher's soft target)
    "ens_kd": "uniform",         # early-exit teacher soft target: uniform | up-to-student | linear
    "max_steps_per_epoch": 0,    # 0 = the whole training split each epoch
    "val_max_images": 0,         # step 1 validation images per epoch (0 = the whole validation half)
    "bn_calib_batches": 8,       # training batches for BN recalibration of the extracted subnet and the teacher
    "threads": 0,                # torch intra-op threads; 0 = torch's default
    "channels_last": True,
    "deterministic": True,       # torch.use_deterministic_algorithms (warn-only on CUDA)
}

PRESETS: dict[str, dict[str, Any]] = {
    # a few steps of each step: checks the pipeline end to end, trains nothing useful
    "smoke": {"max_epochs": 3, "patience": 1, "batch_size": 32, "max_steps_per_epoch": 4, "val_max_images": 200,
              "bn_calib_batches": 2},
    # a 2-core CPU, CIFAR-sized data, a width-0.5 subnet at 32 px
    "quick": {"max_epochs": 20, "patience": 3, "bn_calib_batches": 4},
    # a GPU; NATv2's epoch budget is not published in a form reproduced here: 100 epochs, patience 10
    "paper": {"max_epochs": 100, "patience": 10, "batch_size": 128},
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_data(name: str) -> dict[str, Any]:
    """Every setting of the preset (a fresh copy)."""
    if name not in PRESETS:
        raise ConfigError(unknown_name("fine-tuning preset", name, PRESETS))
    return {**BASE, **PRESETS[name]}
