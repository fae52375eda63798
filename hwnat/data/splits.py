"""Deterministic, stratified train/validation/test splits of a dataset from a seed."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hwnat.data.dataset import ImageDataset
from hwnat.errors import ConfigError


class Splits(NamedTuple):
    train: ImageDataset
    val: ImageDataset
    test: ImageDataset


def split_dataset(ds: ImageDataset, *, val: float | int = 0.1, test: float | int = 0.1, seed: int) -> Splits:
    """Split into disjoint train/val/test covering every image. `val`/`test`: a fraction in [0, 1) or a count.

    Each class is shuffled with `seed` and its images are spread evenly along one order, so every split holds
    each class in proportion (within an image or two); the same seed gives the same split.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    n = len(ds)
    n_val, n_test = _count("val", val, n), _count("test", test, n)
    if n_val + n_test >= n:
        raise ConfigError(f"val ({n_val}) + test ({n_test}) images must leave at least one of {n} for training")
    order = stratified_order(ds.labels, seed)
    val_idx, test_idx, train_idx = np.split(order, [n_val, n_val + n_test])
    return Splits(ds.subset(np.sort(train_idx)), ds.subset(np.sort(val_idx)), ds.subset(np.sort(test_idx)))


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A permutation whose every prefix holds each class in proportion to its size (within one)."""
    rng = np.random.default_rng(int(seed))
    position = np.empty(len(labels), dtype=np.float64)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        position[rng.permutation(members)] = (np.arange(len(members)) + 0.5) / len(members)
    tiebreak = rng.random(len(labels))
    return np.lexsort((tiebreak, position))


def _count(name: str, value: float | int, n: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a fraction in [0, 1) or an image count, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{name} fraction must lie in [0, 1), got {value}")
        return int(round(value * n))
    if not 0 <= value < n:
        raise ConfigError(f"{name} count must lie in [0, {n - 1}] for {n} images, got {value}")
    return int(value)


def holdout_splits(ds: ImageDataset, *, val: float | int, seed: int) -> Splits:
    """The splits every stage after super-network training uses: the supernet's training images stay `train`, and
    the `val` images it held out are halved into a validation half (search, early stopping) and a test half that
    no stage trains or selects on.

    Works because `split_dataset` takes validation, then test, from the front of one stratified order: the
    training split is the same as the super-network's `split_dataset(ds, val=val, test=0, seed=seed)`.
    """
    n_val = _count("val", val, len(ds))
    if n_val < 2:
        raise ConfigError(f"val must hold at least 2 images to leave a test half, got {n_val}")
    return split_dataset(ds, val=n_val - n_val // 2, test=n_val // 2, seed=seed)
