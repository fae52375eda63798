"""The data of a fine-tuning run: the super-network's holdout splits and transforms, rebuilt from its file."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hwnat.data import holdout_splits
from hwnat.data.dataset import ImageDataset
from hwnat.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Normalize, eval_transform, train_transform
from hwnat.errors import ConfigError

log = logging.getLogger("hwnat.finetune")

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
RUN_CONFIG = "config.json"  # written by train_supernet beside supernet.pt; holds the run's seed


@dataclass(frozen=True)
class SupernetOrigin:
    """How the super-network's data was split and augmented: its validation size, split seed and augmentation."""

    val: float | int
    split_seed: int
    augment: str
    seed_from: str  # where split_seed came from: the super-network file, its run's config.json, or the caller


def supernet_origin(path: Path, payload: Mapping[str, Any], split_seed: int | None,
                    fallback_seed: int) -> SupernetOrigin:
    """Read the training split settings from a super-network file's stored config (the `val` size and augmentation)
    and its seed: `split_seed` when given, else the file's, else its run folder's config.json, else `fallback_seed`."""
    from hwnat.training.config import TrainConfig, load_config

    cfg = TrainConfig.from_dict(payload["config"], source=str(path)) if "config" in payload else load_config("quick")
    if split_seed is not None:
        return SupernetOrigin(cfg.val, int(split_seed), cfg.augment, "argument")
    if isinstance(payload.get("seed"), int):
        return SupernetOrigin(cfg.val, int(payload["seed"]), cfg.augment, str(path))
    run_config = path.with_name(RUN_CONFIG)
    try:
        seed = json.loads(run_config.read_text()).get("seed")
    except (OSError, ValueError, AttributeError):
        seed = None
    if isinstance(seed, int):
        return SupernetOrigin(cfg.val, seed, cfg.augment, str(run_config))
    log.warning("%s records no training seed (and %s has none): splitting with seed %d; if the super-network was "
                "trained with another seed, its validation images leak into fine-tuning's training split",
                path, run_config, fallback_seed)
    return SupernetOrigin(cfg.val, int(fallback_seed), cfg.augment, "seed")


@dataclass(frozen=True)
class FinetuneData:
    """train: the super-network's training images; val / test: the two halves of the images it held out."""

    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    train_transform: Transform
    eval_transform: Transform

    @property
    def train_val(self) -> ImageDataset:
        """Step 2's training data: train + val (in that order)."""
        import numpy as np

        return ImageDataset(np.concatenate([self.train.images, self.val.images]),
                            np.concatenate([self.train.labels, self.val.labels]), list(self.train.classes),
                            self.train.source, self.train.skipped)

    def counts(self) -> dict[str, int]:
        return {"train_images": len(self.train), "val_images": len(self.val), "test_images": len(self.test)}


def finetune_data(dataset: ImageDataset, origin: SupernetOrigin, num_classes: int, source: str) -> FinetuneData:
    """The holdout splits of `dataset` by the super-network's settings; a class-count mismatch is an error."""
    if dataset.num_classes != num_classes:
        raise ConfigError(f"dataset {source!r} has {dataset.num_classes} classes but the super-network has "
                          f"{num_classes}: fine-tune on the dataset it was trained on")
    splits = holdout_splits(dataset, val=origin.val, seed=origin.split_seed)
    native = dataset.resolution
    augment: Transform
    if origin.augment == "none":
        normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)

        def augment(x: Any, generator: Any = None) -> Any:
            return normalize(x)
    else:
        augment = train_transform(native, origin.augment)
    return FinetuneData(splits.train, splits.val, splits.test, augment, eval_transform(native))
