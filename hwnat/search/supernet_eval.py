"""Build a SupernetEvaluator from a super-network file and a dataset, with the split and settings it was trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnat.errors import ConfigError
from hwnat.search.evaluator import SupernetEvaluator


def supernet_evaluator(supernet: str | Path, data: str | Path, *, seed: int = 0, device: str = "cpu",
                       val_images: int = 0, cache_dir: Path | None = None) -> SupernetEvaluator:
    """Validation split = the training run's (`val` of its stored config, split `seed`); BN recalibration on
    `bn_calib_batches` training batches with the training augmentation."""
    import torch

    from hwnat.data import load_dataset, split_dataset
    from hwnat.data.transforms import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        Normalize,
        eval_transform,
        train_transform,
    )
    from hwnat.training import checkpoint as ckpt
    from hwnat.training.api import load_supernet
    from hwnat.training.config import TrainConfig, load_config
    from hwnat.training.validate import EvalData

    path = Path(supernet)
    raw = ckpt.load_file(path)
    cfg = TrainConfig.from_dict(raw["config"], source=str(path)) if "config" in raw else load_config("quick")
    net = load_supernet(path, device).eval()
    dataset = load_dataset(data, cache_dir=cache_dir)
    if dataset.num_classes != net.space.num_classes:
        raise ConfigError(f"dataset {str(data)!r} has {dataset.num_classes} classes but the super-network "
                          f"{str(path)!r} has {net.space.num_classes}")
    splits = split_dataset(dataset, val=cfg.val, test=0, seed=seed)
    native = dataset.resolution
    augment: Any
    if cfg.augment == "none":
        normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        augment = lambda x, generator=None: normalize(x)
    else:
        augment = train_transform(native, cfg.augment)
    data_ = EvalData(splits.train, splits.val, augment, eval_transform(native), cfg.batch_size, cfg.bn_calib_batches,
                     torch.device(device), False, seed)
    return SupernetEvaluator(net, data_, max_images=val_images)
