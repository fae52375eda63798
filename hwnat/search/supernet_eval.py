"""Build a SupernetEvaluator (and its SupernetAdapter) from a super-network file and the dataset it was trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnat.errors import ConfigError
from hwnat.search.adapt import AdaptSettings, SupernetAdapter
from hwnat.search.evaluator import SupernetEvaluator


def supernet_evaluator(supernet: str | Path, data: str | Path, *, seed: int = 0, device: str = "cpu",
                       val_images: int = 0, cache_dir: Path | None = None) -> SupernetEvaluator:
    """Subnets are scored on the validation half of the training run's held-out images (`holdout_splits` with the
    `val` of its stored config and the seed it was trained with, else `seed`), so that the other half stays a test
    split no stage selects on; BN recalibration on `bn_calib_batches` training batches with the training
    augmentation."""
    import torch

    from hwnat.data import holdout_splits, load_dataset
    from hwnat.data.transforms import eval_transform
    from hwnat.training import checkpoint as ckpt
    from hwnat.training.api import load_supernet, training_transform
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
    splits = holdout_splits(dataset, val=cfg.val, seed=int(raw.get("seed", seed)))
    native = dataset.resolution
    data_ = EvalData(splits.train, splits.val, training_transform(native, cfg.augment), eval_transform(native),
                     cfg.batch_size, cfg.bn_calib_batches, torch.device(device), False, seed)
    evaluator = SupernetEvaluator(net, data_, max_images=val_images)
    evaluator.train_config = cfg
    return evaluator


def supernet_adapter(evaluator: SupernetEvaluator, config: Any) -> SupernetAdapter:
    """NAT's adaptation of the evaluator's super-network on its training split, with the run's training settings
    and the adapt_* settings of a SearchConfig."""
    cfg = getattr(evaluator, "train_config", None)
    if cfg is None:
        raise ConfigError("supernet adaptation needs the evaluator built by supernet_evaluator() (it carries the "
                          "training configuration)")
    return SupernetAdapter(evaluator.supernet, evaluator.data.train, cfg, AdaptSettings.from_config(config),
                           evaluator.data.device)
